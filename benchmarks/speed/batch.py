"""Benchmark of the batch (not a test): 20 photos through the local batch, the warm worker,
20 separate command-line runs and a Ray batch on this machine, all in one run.

    .venv/bin/python -m benchmarks.speed.batch [--photos 20] [--repeat 3] [--no-ray]
                                         [--overlap] [--spin] [--fast | --glpn]

Photos: scikit-image's colour photos and matplotlib's grace_hopper, repeated under
distinct names (so no run reuses another's mask or depth) in a temporary folder.
Settings: the defaults (u2netp background removal, the grid mesher, texture + vertex
colours, .ply) with our default depth model's architecture, Depth Anything V2 Small, with
random weights (no download here; speed does not depend on the weights) -- or GLPN-NYU's
(MiT-b4, ``--glpn``), or with ``--fast`` silhouette inflation.

Measured, in each repetition (figures are medians over repetitions):

* per photo: the seconds between one photo's end and the next's, seen by the caller
  (median over photos 2..N: the first pays the model loads), for the local batch (its
  ``photo`` events) and for the warm worker fed the same photos one request each (its
  ``result`` events) -- the batch's target is within 1.1x of the worker's;
* total: the batch's wall time (start of the process to exit) against the sum of N
  separate ``img2mesh PHOTO -o OUT`` runs (each pays Python's imports and the model loads)
  -- the target is at least 5x faster;
* Ray: ``--ray`` (a Ray started on this machine: actors = CPUs, one CPU each) and
  ``--ray --ray-actors 1``, wall time against the local batch's (Ray's start, actors'
  imports and model loads, scheduling);
* ``--overlap``: the local batch again with the other stage overlaps
  (``IMG2MESH_BATCH_OVERLAP`` = ``0``: none, ``depth``: the next photo's depth network
  too while the current one is meshed; the default ``mask``: the next photo's mask
  only): rows ``batch[0]``, ``batch[depth]``;
* ``--spin``: the local batch again with onnxruntime's threads spinning between operators
  (``IMG2MESH_ORT_SPIN=1``, onnxruntime's default; the batch turns it off when it overlaps
  stages): row ``batch[spin]``.

The variants of one repetition run one after the other, in an order rotated by
repetition (so none always runs first or last on a machine whose load changes).

The machine may be shared: the figures are medians, their spread is printed too.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
          "hubble_deep_field.jpg", "grace_hopper.jpg"]


def make_photos(folder, n):
    import matplotlib
    import skimage.data

    os.makedirs(folder, exist_ok=True)
    sources = [os.path.join(matplotlib.get_data_path(), "sample_data", p)
               if p == "grace_hopper.jpg" else
               os.path.join(os.path.dirname(skimage.data.__file__), p) for p in PHOTOS]
    paths = []
    for i in range(n):
        src = sources[i % len(sources)]
        name = f"{i:02d}_{os.path.basename(src)}"
        shutil.copy(src, os.path.join(folder, name))
        paths.append(os.path.join(folder, name))
    return paths


def stream(argv, on_event, env=None, stdin=None):
    """Run ``argv``, call ``on_event(event, t)`` for each JSON line; wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                            env={**os.environ, **(env or {})})
    if stdin:
        proc.stdin.write(stdin)
    proc.stdin.close()
    for line in proc.stdout:
        if line.startswith("{"):
            on_event(json.loads(line), time.perf_counter() - t0)
    proc.wait()
    if proc.returncode:
        raise SystemExit(f"{argv[:4]}... failed with exit code {proc.returncode}")
    return time.perf_counter() - t0


def gaps(times):
    """Median seconds between consecutive ends, photos 2..N."""
    return statistics.median(b - a for a, b in zip(times, times[1:]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-ray", action="store_true")
    p.add_argument("--no-separate", action="store_true",
                   help="skip the N separate command-line runs")
    p.add_argument("--overlap", action="store_true")
    p.add_argument("--spin", action="store_true")
    p.add_argument("--fast", action="store_true", help="silhouette inflation, no network")
    p.add_argument("--glpn", action="store_true", help="GLPN-NYU's architecture (MiT-b4)")
    a = p.parse_args(argv)
    py = sys.executable
    load0 = f"{os.getloadavg()[0]:.1f}"
    tmp = tempfile.mkdtemp(prefix="bench_batch_")
    photos = make_photos(os.path.join(tmp, "photos"), a.photos)
    opts = ["--offline"]
    if a.fast:
        opts += ["--depth-model", "inflate"]
    else:
        from .inputs import make_default_network, make_network

        net = os.path.join(tmp, "depth-net")
        (make_network if a.glpn else make_default_network)(net)
        opts += ["--depth-model", net]
        # the ONNX export (once per model, cached) before any measured run
        subprocess.run([py, "-m", "blender_img2mesh", photos[0], "-o",
                        os.path.join(tmp, "warm.ply"), "-q", *opts], check=True, cwd=ROOT,
                       stderr=subprocess.DEVNULL)
    variants = {"batch": {}}
    if a.overlap:
        variants.update({"batch[0]": {"IMG2MESH_BATCH_OVERLAP": "0"},
                         "batch[depth]": {"IMG2MESH_BATCH_OVERLAP": "depth"}})
    if a.spin:
        variants["batch[spin]"] = {"IMG2MESH_ORT_SPIN": "1"}
    rows = {k: [] for k in ("worker_per", "separate_total", "ray_total", "ray1_total")}
    for v in variants:
        rows[f"{v}_total"], rows[f"{v}_per"] = [], []

    def batch(tag, extra=(), env=None):
        ends = []
        out = os.path.join(tmp, tag)
        shutil.rmtree(out, ignore_errors=True)
        wall = stream([py, "-m", "blender_img2mesh", os.path.join(tmp, "photos"), "-o", out,
                       "--json", *opts, *extra],
                      lambda e, t: ends.append(t) if e["event"] == "photo" else None, env)
        return wall, ends

    for r in range(a.repeat):
        names = list(variants)
        for v in names[r % len(names):] + names[:r % len(names)]:
            wall, ends = batch("batch", env=variants[v])
            rows[f"{v}_total"].append(wall)
            rows[f"{v}_per"].append(gaps(ends))
        out = os.path.join(tmp, "worker")
        os.makedirs(out, exist_ok=True)
        requests = "".join(json.dumps({"id": i, "args": [ph, "-o", os.path.join(
            out, f"{i}.ply"), *opts]}) + "\n" for i, ph in enumerate(photos))
        ends = []
        stream([py, "-m", "blender_img2mesh.pipeline.worker"],
               lambda e, t: ends.append(t) if e["event"] == "result" else None,
               stdin=requests)
        rows["worker_per"].append(gaps(ends))
        if not a.no_ray:
            rows["ray_total"].append(batch("ray", ["--ray"])[0])
            rows["ray1_total"].append(batch("ray1", ["--ray", "--ray-actors", "1"])[0])
        if not a.no_separate:
            t0 = time.perf_counter()
            for i, ph in enumerate(photos):
                subprocess.run([py, "-m", "blender_img2mesh", ph, "-o",
                                os.path.join(out, f"s{i}.ply"), "-q", *opts], check=True,
                               cwd=ROOT, stderr=subprocess.DEVNULL)
            rows["separate_total"].append(time.perf_counter() - t0)
        print(f"repetition {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rows.items()
                                                  if v), flush=True)

    med = {k: statistics.median(v) for k, v in rows.items() if v}
    spread = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in rows.items() if v}
    net = "inflation" if a.fast else "GLPN-NYU (MiT-b4)" if a.glpn else \
        "Depth Anything V2 Small"
    print(f"\n{a.photos} photos, {net}, medians of {a.repeat} (range); load average before "
          f"{load0}, after {os.getloadavg()[0]:.1f}:")
    for k in med:
        print(f"  {k:<15} {med[k]:7.2f} s  ({spread[k]})")
    print(f"  batch per photo / warm worker per photo: "
          f"{med['batch_per'] / med['worker_per']:.2f}x (target <= 1.1)")
    if "separate_total" in med:
        print(f"  {a.photos} separate runs / batch total: "
              f"{med['separate_total'] / med['batch_total']:.1f}x (target >= 5)")
    if "ray_total" in med:
        print(f"  Ray ({os.cpu_count()} actors) total / local batch total: "
              f"{med['ray_total'] / med['batch_total']:.2f}x; Ray 1 actor / local: "
              f"{med['ray1_total'] / med['batch_total']:.2f}x")
    for v in variants:
        if v != "batch":
            paired = [b / x for b, x in zip(rows["batch_total"], rows[f"{v}_total"])]
            print(f"  batch (default) total / {v} total: "
                  f"{med['batch_total'] / med[f'{v}_total']:.2f}x; paired by repetition "
                  + ", ".join(f"{x:.2f}" for x in paired))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
