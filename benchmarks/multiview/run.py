"""Whole objects from several photos (issue 20): ``img2mesh --views`` against ground truth
and against the classical floor, a visual hull from the same masks and TRUE cameras.

    .venv-blender/bin/python -m benchmarks.multiview.scenes --out bench_data/multiview
    .venv/bin/python -m benchmarks.multiview [--data bench_data/multiview] [--only mug,box]
        [--out bench_out/multiview] [--doc docs/benchmarks.md] [--no-method] [--hull-res 192]

Per set (``benchmarks/multiview/scenes.py``: 30 views + 4 held out, 640 x 480):

* the method: ``python -m blender_img2mesh --views SET/images -o OUT/object.ply -q`` as a
  whole fresh process (wall time from start to exit, imports included; peak memory = the
  child's VmHWM); its sidecar's cameras (registered / given), its per-stage timings;
  the mesh brought into the truth's frame by a similarity fitted on the camera centres
  (Umeyama); run only when the command line has ``--views``;
* the floor: ``benchmarks/multiview/hull.py`` (voxel carving + marching cubes, coloured
  from the most frontal view that sees each vertex), its time in this process;
* both scored the same way: F@1% and F@2% of the true bounding-box diagonal (200k samples
  each way, ``benchmarks/accuracy/metrics.py``); the held-out views rendered from the coloured mesh
  (``pipeline/output/render.py``): PSNR inside the true silhouette (the plain background
  where the mesh misses) and silhouette IoU; and the share of the true surface that no
  given view sees, with the F ceiling it implies (precision 1, recall = that share).
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

from . import bad
from . import eval as ev
from . import hull
from ..accuracy.report import write as write_section
from ..speed.onnx_vs_torch import MAIN as HWM_MAIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEGIN, END = "<!-- multiview:begin -->", "<!-- multiview:end -->"
TARGETS = {"registered": 0.95, "f@1%": 0.90, "f@2%": 0.97, "psnr": 23.0, "iou": 0.95,
           "seconds": 60.0, "peak_mb": 3072.0}


def has_views(python=sys.executable):
    """Whether this tree's command line takes ``--views`` (h20a's method)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([python, "-m", "blender_img2mesh", "--help"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    return "--views" in out.stdout


def run_method(truth, out_dir, extra=()):
    """One fresh ``img2mesh --views`` process on the set's given images: dict with
    seconds, peak_mb, rc, log, sidecar (or None)."""
    os.makedirs(out_dir, exist_ok=True)
    mesh = os.path.join(out_dir, "object.ply")
    cmd = [sys.executable, "-c", HWM_MAIN, "--views",
           os.path.join(truth["folder"], "images"), "-o", mesh, "-q", *extra]
    env = dict(os.environ, PYTHONPATH=ROOT)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak = [ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("@@HWM")]
    side = os.path.join(out_dir, "object.json")
    return {"seconds": seconds, "peak_mb": int(peak[-1]) / 1024.0 if peak else None,
            "rc": proc.returncode, "mesh": mesh,
            "log": [ln for ln in proc.stderr.splitlines() if not ln.startswith("@@HWM")],
            "sidecar": ev.read_json(side) if proc.returncode == 0 and os.path.exists(side)
            else None}


def score_method(truth, run):
    """The method's figures (registered, alignment, F, held-out) from its run."""
    side = run["sidecar"]
    row = {"seconds": run["seconds"], "peak_mb": run["peak_mb"], "given": len(truth["cameras"])}
    if side is None:
        row["error"] = (run["log"] or ["no sidecar"])[-1]
        return row, {}
    cams = {os.path.basename(k): {q: np.asarray(c[q], np.float64) for q in ("K", "R", "t")}
            for k, c in side.get("cameras", {}).items()}
    row["registered"] = len(cams) / row["given"]
    row["timings"] = side.get("timings", {})
    s, R, t, names, err = ev.align(cams, truth["cameras"])
    diag = truth["scene"]["diagonal"]
    row["centre_err"] = float(np.median(err) / diag)
    f_true = truth["scene"]["focal_px"]
    row["focal_err"] = float(np.median([abs(cams[n]["K"][0, 0] / f_true - 1) for n in names]))
    V, T, uv, image, colors = ev.load_result(run["mesh"])
    V = s * V @ R.T + t
    row.update(ev.geometry(V, T, truth))
    rows, renders = ev.heldout(V, T, truth, uv, image, colors)
    row["psnr"] = float(np.mean([r["psnr"] for r in rows]))
    row["iou"] = float(np.mean([r["iou"] for r in rows]))
    row["heldout"] = rows
    return row, renders


def score_hull(truth, resolution):
    t0 = time.perf_counter()
    V, T = hull.carve(truth, resolution)
    colors = hull.colour(V, T, truth)
    row = {"seconds": time.perf_counter() - t0, "given": len(truth["cameras"]),
           "registered": 1.0, "triangles": len(T)}
    row.update(ev.geometry(V, T, truth))
    rows, renders = ev.heldout(V, T, truth, colors=colors)
    row["psnr"] = float(np.mean([r["psnr"] for r in rows]))
    row["iou"] = float(np.mean([r["iou"] for r in rows]))
    row["heldout"] = rows
    return row, renders


def strip(truth, renders, path, names=("truth", "hull", "ours")):
    """A PNG: per held-out view, the true photo, then each method's render, side by side
    (one row per view)."""
    from PIL import Image

    rows = []
    for view in sorted(truth["heldout"]):
        photo = ev.read_image(os.path.join(truth["folder"], "heldout", "images", view))
        cells = [photo[..., :3]] + [renders[n][view] for n in names[1:] if view in
                                    renders.get(n, {})]
        rows.append(np.hstack(cells))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    img = Image.fromarray(np.vstack(rows))
    img.thumbnail((800, 1200))  # small enough for the repository's docs
    img.save(path, optimize=True)


def fmt(v, nd=2, pct=False):
    if v is None:
        return "-"
    return f"{100 * v:.0f}%" if pct else f"{v:.{nd}f}"


def table(results):
    """Markdown table: one row per (set, method)."""
    lines = ["| set | method | cameras | F@1% | F@2% | seen share (F ceiling) | held-out PSNR dB "
             "| held-out IoU | time s | peak MB |", "|" + "---|" * 10]
    for name, r in results.items():
        ceiling = f"{fmt(r['seen'], pct=True)} ({fmt(ev.f_ceiling(r['seen']))})"
        for method, row in r["methods"].items():
            if "error" in row:
                lines.append(f"| {name} | {method} | failed: {row['error'][:80]} |" +
                             " |" * 7)
                continue
            cams = f"{round(row['registered'] * row['given'])}/{row['given']}"
            lines.append(f"| {name} | {method} | {cams} | {fmt(row['f@1%'])} | "
                         f"{fmt(row['f@2%'])} | {ceiling} | {fmt(row['psnr'], 1)} | "
                         f"{fmt(row['iou'], 3)} | {fmt(row['seconds'], 1)} | "
                         f"{fmt(row.get('peak_mb'), 0)} |")
    return "\n".join(lines)


def stages(results):
    """Markdown lines: each method run's stage timings from its sidecar."""
    out = []
    for name, r in results.items():
        t = r["methods"].get("ours", {}).get("timings")
        if t:
            out.append(f"- {name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()))
    return out


def section(results, pictures, meta, bad_rows=None):
    doc = [BEGIN, "## Whole objects from several photos (multi-view)", "",
           "`python -m benchmarks.multiview` on the sets of `python -m "
           "benchmarks.multiview.scenes` (Cycles, " + meta + "). `hull` is the classical "
           "floor: a visual hull carved from the same masks and the TRUE cameras, coloured "
           "from the most frontal view. `ours` is `img2mesh --views` as a fresh process "
           "(imports included; peak = its VmHWM), aligned to the truth by a similarity on "
           "the camera centres. F@x = F-score at x of the true bounding-box diagonal; "
           "seen share = the true surface some given view sees, and the F ceiling of a "
           "method exact there and absent elsewhere; held-out = 4 views never given, "
           "rendered from the coloured mesh, PSNR inside the true silhouette. Targets: "
           "cameras >= 95%, F@1% >= 0.90, F@2% >= 0.97, PSNR >= 23 dB, IoU >= 0.95, "
           "<= 60 s and <= 3 GB for 30 photos.", "", table(results), ""]
    st = stages(results)
    if st:
        doc += ["Stage times of `ours` (sidecar):", ""] + st + [""]
    if bad_rows:
        doc += ["Bad input (`benchmarks/multiview/bad.py`; wanted: exit 2, one clear line, "
                "nothing written):", "", bad.table(bad_rows), ""]
    for name, path in pictures.items():
        shown = ", ".join(["truth", *results[name]["methods"]])
        doc += [f"Held-out views of `{name}`: {shown} (left to right).", "",
                f"![{name}]({os.path.basename(path)})", ""]
    return "\n".join(doc + [END, ""])


def sets(data, only):
    names = [n for n in sorted(os.listdir(data))
             if os.path.exists(os.path.join(data, n, "scene.json"))]
    return [n for n in names if n in only] if only else [n for n in names if n != "small"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(ROOT, "bench_data", "multiview"))
    p.add_argument("--only", default="", help="comma-separated set names")
    p.add_argument("--out", default=os.path.join(ROOT, "bench_out", "multiview"))
    p.add_argument("--doc", help="write the multi-view section (and pictures) into this "
                   "markdown file, e.g. docs/benchmarks.md")
    p.add_argument("--no-method", action="store_true", help="only the visual-hull floor")
    p.add_argument("--hull-res", type=int, default=192, help="voxels along the longest side")
    args = p.parse_args(argv)
    only = {s for s in args.only.split(",") if s}
    method = not args.no_method and has_views()
    if not method:
        print("multiview: running the floor only (no --views in this command line)"
              if not args.no_method else "multiview: the floor only", flush=True)
    results, pictures = {}, {}
    for name in sets(args.data, only):
        truth = ev.load_set(os.path.join(args.data, name))
        r = {"seen": ev.seen_share(truth["vertices"], truth["triangles"], truth["cameras"],
                                   (truth["scene"]["width"], truth["scene"]["height"])),
             "methods": {}}
        renders = {}
        r["methods"]["hull"], renders["hull"] = score_hull(truth, args.hull_res)
        if method:
            run = run_method(truth, os.path.join(args.out, name))
            r["methods"]["ours"], renders["ours"] = score_method(truth, run)
        results[name] = r
        print(f"{name}: " + "; ".join(f"{m} F@1% {fmt(row.get('f@1%'))} PSNR "
                                      f"{fmt(row.get('psnr'), 1)}"
                                      for m, row in r["methods"].items()), flush=True)
        if args.doc:
            folder = os.path.dirname(os.path.abspath(args.doc))
            os.makedirs(folder, exist_ok=True)
            pictures[name] = os.path.join(folder, f"multiview_{name}.png")
            strip(truth, renders, pictures[name])
    print(table(results))
    for line in stages(results):
        print(line)
    bad_rows = None
    if method and len(results) >= 2:
        first, second = (os.path.join(args.data, n) for n in list(results)[:2])
        bad_rows = bad.check(first, second, os.path.join(args.out, "bad"))
        print(bad.table(bad_rows))
    if args.doc and results:
        scene = truth["scene"]
        meta = (f"{len(truth['cameras'])} views + {len(truth['heldout'])} held out at "
                f"{scene['width']}x{scene['height']}")
        write_section(args.doc, section(results, pictures, meta, bad_rows), BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
