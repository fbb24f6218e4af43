"""Geometric accuracy on ground-truth renders: this pipeline vs the original prototype.

    .venv-blender/bin/python -m benchmarks.accuracy.make_scenes --out bench_data   # once
    .venv/bin/python -m benchmarks.accuracy --scenes bench_data --out docs/benchmarks.md
    (or: .venv/bin/python -m benchmarks.speed accuracy --scenes bench_data --out ...)

For every view made by ``benchmarks/accuracy/make_scenes.py`` (RGBA render, true depth, fov, true
surface samples) it reconstructs the object with

* ``ours-true``          -- the pipeline on the true depth: ``--depth-map depth.npy --fov
  FOV --frame camera`` (mask = the render's alpha; default ``--back open``)
* ``ours-true-mirror``   -- the same with ``--back mirror`` (a closed solid)
* ``ours-inflate``       -- ``--depth-model inflate --fov FOV`` (no depth given: the
  silhouette inflated), ``--back open``
* ``ours-inflate-mirror`` -- the same with ``--back mirror``
* ``prototype``          -- the original prototype's geometry on the same true depth
  (``prototype_baseline.py``'s steps 3-8: x1000, 16 px crop, squeezed to 8 bits, fixed
  focal 500 px, statistical outlier removal 20/6, default normals, Poisson depth 10 on one
  thread, untrimmed; its final 180-degree turn about X is left out, as a rotation the
  evaluation would undo)

each in its own child process (time per stage from the pipeline's sidecar / the
prototype's clocks; peak memory = the child's ``ru_maxrss``), and scores each result
against the truth, for the visible surface and for the whole object (see
``benchmarks/accuracy/metrics.py`` for the metrics and ``docs/benchmarks.md`` for the protocol).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import metrics as bm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: method -> (kind, extra pipeline options, metric?)
METHODS = {
    "truth": ("truth", [], True),
    "ours-true": ("pipeline", ["--depth-map", "{depth}", "--back", "open"], True),
    "ours-true-mirror": ("pipeline", ["--depth-map", "{depth}", "--back", "mirror"], True),
    "ours-inflate": ("pipeline", ["--depth-model", "inflate", "--back", "open"], False),
    "ours-inflate-mirror": ("pipeline", ["--depth-model", "inflate", "--back", "mirror"],
                            False),
    "prototype": ("prototype", [], False),
}
FS = (0.01, 0.02)  # F-score thresholds, as shares of the true object's box diagonal
TARGET = 0.95
PEAK = "@@PEAK@@"


# ------------------------------------------------------------------- running the methods

def peak_rss_mb():
    """This process's own resident-set high-water mark (VmHWM, reset by exec -- unlike a
    child's ru_maxrss, which on Linux starts from the parent's RSS at fork)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_child(args, log_path):
    """Run this benchmark as a child (``python -m benchmarks.accuracy ARGS`` in the
    repository's root); returns (exit code, wall seconds, peak RSS MB of that child
    alone, from the ``@@PEAK@@`` line it prints last)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "benchmarks.accuracy"] + args
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    peak = None
    with open(log_path) as fh:
        for line in fh:
            if line.startswith(PEAK):
                peak = float(line[len(PEAK):])
    return rc, wall, peak


def pipeline_child(argv):
    """Child process body for the pipeline: its command line, then the peak memory."""
    from blender_img2mesh.pipeline.cli import main as cli_main

    try:
        return cli_main(argv)
    finally:
        print(f"{PEAK}{peak_rss_mb():.1f}", flush=True)


def run_pipeline(view_dir, info, options, out_ply):
    depth = os.path.join(view_dir, "depth.npy")
    cmd = ["--_pipeline", os.path.join(view_dir, "image.png"), "-o", out_ply,
           "--fov", str(info["fov_deg"]), "--frame", "camera", "-q"]
    cmd += [o.format(depth=depth) for o in options]
    rc, wall, peak = run_child(cmd, out_ply + ".log")
    if rc != 0:
        return None, {"error": open(out_ply + ".log").read().strip()[-300:]}
    with open(os.path.splitext(out_ply)[0] + ".json") as fh:
        side = json.load(fh)
    return out_ply, {"timings": side["timings"], "wall": wall, "peak_mb": peak,
                     "focal_px": side["focal_px"], "mesher": side.get("mesher"),
                     "faces": side["faces"]}


def prototype_geometry(depth_m, rgb, poisson_depth=10):
    """The prototype's steps 3-8 (see ``benchmarks/speed/prototype_baseline.py``) on a depth map in metres
    on the network's grid.  Returns (vertices, triangles, timings, info)."""
    import open3d as o3d

    from ..speed import prototype_baseline
    from ..speed.prototype_baseline import PAD

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    t = {}
    output = (depth_m * 1000.0)[PAD:-PAD, PAD:-PAD]
    image = rgb[PAD:-PAD, PAD:-PAD]
    _, pcd, mesh = prototype_baseline.geometry(output, image, poisson_depth, t)
    depth_image = (output * 255 / np.max(output)).astype("uint8")
    return (np.asarray(mesh.vertices), np.asarray(mesh.triangles), t,
            {"points": len(pcd.points), "levels": int(len(np.unique(depth_image))) - 1})


def prototype_child(view_dir, out_npz):
    """Child process body for the prototype (so its peak memory is its own)."""
    from PIL import Image

    rgba = np.asarray(Image.open(os.path.join(view_dir, "image.png")).convert("RGBA"))
    depth = np.load(os.path.join(view_dir, "depth.npy"))
    V, T, t, extra = prototype_geometry(depth, np.ascontiguousarray(rgba[..., :3]))
    np.savez(out_npz, vertices=V, triangles=T, timings=json.dumps(t), extra=json.dumps(extra))
    print(f"{PEAK}{peak_rss_mb():.1f}", flush=True)
    return 0


def run_prototype(view_dir, out_npz):
    rc, wall, peak = run_child(["--_prototype", view_dir, out_npz], out_npz + ".log")
    if rc != 0:
        return None, {"error": open(out_npz + ".log").read().strip()[-300:]}
    data = np.load(out_npz)
    extra = json.loads(str(data["extra"]))
    return out_npz, {"timings": json.loads(str(data["timings"])), "wall": wall,
                     "peak_mb": peak, "focal_px": 500.0, "faces": len(data["triangles"]),
                     "levels": extra["levels"]}


# ---------------------------------------------------------------------------- scoring

def evaluate(V, T, gt, info, metric, n_samples, seed=0):
    """Scores of one reconstruction (camera frame) against the truth of its view."""
    scale = 1.0 / max(info["object_size"])  # unit bounding box: longest side 1
    taus = {f"{f:g}": f * info["object_diagonal"] * scale for f in FS}
    P, N = bm.sample_mesh(V, T, n_samples, seed)
    vis = bm.visible_from_origin(V, T, P)
    Tv, Tw = gt["visible_points"], gt["whole_points"]
    s, t = bm.fit_scale_shift(P[vis], Tv)
    if metric:  # the frames must already agree: the fit is only reported, as a check
        check, s, t = (s, t), 1.0, 0.0
    P = bm.apply_scale_shift(P, s, t) * scale
    out = {"fit": [s, t] if not metric else list(check), "aligned": not metric,
           "visible": bm.score(P[vis], N[vis], Tv * scale, gt["visible_normals"], taus),
           "whole": bm.score(P, N, Tw * scale, gt["whole_normals"], taus),
           "visible_share": float(vis.mean())}
    return out


def bench(scenes, methods, work, n_samples, log=print):
    with open(os.path.join(scenes, "index.json")) as fh:
        views = json.load(fh)["views"]
    rows = []
    for key in views:
        view_dir = os.path.join(scenes, key)
        with open(os.path.join(view_dir, "view.json")) as fh:
            info = json.load(fh)
        gt = dict(np.load(os.path.join(view_dir, "gt.npz")))
        for name in methods:
            kind, options, metric = METHODS[name]
            if kind == "pipeline":
                mesh, run = run_pipeline(view_dir, info, options,
                                         os.path.join(work, f"{key}.{name}.ply"))
            elif kind == "truth":
                mesh, run = os.path.join(view_dir, "gt.npz"), {"timings": {}}
            else:
                mesh, run = run_prototype(view_dir, os.path.join(work, f"{key}.{name}.npz"))
            row = {"view": key, "method": name, **run}
            row["seconds"] = sum(run.get("timings", {}).values())
            if mesh is not None:
                row.update(evaluate(*bm.load_mesh(mesh), gt, info, metric, n_samples))
                row["mesh"] = mesh
                log(f"{key:<11} {name:<20} visible F@1% {row['visible']['f@0.01']:.3f} "
                    f"whole F@1% {row['whole']['f@0.01']:.3f}  fit s={row['fit'][0]:.4g} "
                    f"t={row['fit'][1]:.3g}  {row['seconds']:.2f} s "
                    f"{run.get('peak_mb') or 0:.0f} MB")
            else:
                log(f"{key:<11} {name:<20} FAILED: {run['error']}")
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------- report

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenes", default="bench_data", help="benchmarks.accuracy.make_scenes's output")
    p.add_argument("--out", default=None, help="write the markdown report here")
    p.add_argument("--methods", default=",".join(METHODS),
                   help="comma-separated subset of: " + ", ".join(METHODS))
    p.add_argument("--only", default="", help="comma-separated view names (e.g. torus-1)")
    p.add_argument("--samples", type=int, default=100000, help="points per predicted mesh")
    p.add_argument("--keep", default=None, help="keep the meshes and logs in this folder")
    p.add_argument("--json", default=None, help="also write the raw scores here")
    p.add_argument("--overlay", nargs=2, metavar=("VIEW", "PNG"), default=None,
                   help="also draw a slice of every method's mesh over the truth for VIEW")
    p.add_argument("--_prototype", nargs=2, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--_pipeline"]:
        return pipeline_child(argv[1:])
    args = p.parse_args(argv)
    if args._prototype:
        return prototype_child(*args._prototype)
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        p.error(f"unknown method(s): {', '.join(sorted(unknown))}")
    if not os.path.isfile(os.path.join(args.scenes, "index.json")):
        p.error(f"no scenes in {args.scenes}: run .venv-blender/bin/python -m "
                f"benchmarks.accuracy.make_scenes --out {args.scenes} first")
    command = "python -m benchmarks.accuracy " + " ".join(argv)
    with tempfile.TemporaryDirectory(prefix="img2mesh-acc-") as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        scenes = args.scenes
        if args.only:
            scenes = _subset(args.scenes, args.only.split(","), tmp)
        t0 = time.perf_counter()
        rows = bench(scenes, methods, work, args.samples)
        if args.overlay:
            from . import report as accuracy_report

            accuracy_report.overlay(args.overlay[1], rows, scenes, args.overlay[0])
        print(f"benchmarks.accuracy: {len(rows)} runs in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
    with open(os.path.join(args.scenes, "index.json")) as fh:
        index = json.load(fh)
    meta = {"command": command, "size": index.get("size"), "blender": index.get("blender"), "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}", "scenes": os.path.abspath(args.scenes)}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "rows": rows}, fh, indent=1, default=float)
    if args.overlay:
        meta["overlay"] = [args.overlay[0], os.path.relpath(
            args.overlay[1], os.path.dirname(os.path.abspath(args.out or args.overlay[1])))]
    if args.out:
        from . import report as accuracy_report

        accuracy_report.write(args.out, accuracy_report.markdown(rows, methods, meta, FS,
                                                                 TARGET))
        print(f"benchmarks.accuracy: wrote {args.out}", file=sys.stderr)
    return 0


def _subset(scenes, keys, tmp):
    """A scenes folder holding only ``keys`` (an index.json pointing at the real views)."""
    sub = os.path.join(tmp, "scenes")
    os.makedirs(sub, exist_ok=True)
    for k in keys:
        os.symlink(os.path.abspath(os.path.join(scenes, k)), os.path.join(sub, k))
    with open(os.path.join(sub, "index.json"), "w") as fh:
        json.dump({"views": keys}, fh)
    return sub


if __name__ == "__main__":
    sys.exit(main())
