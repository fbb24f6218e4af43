"""The markdown report of ``benchmarks/accuracy/run.py`` (the accuracy section of
``docs/benchmarks.md``).  Only this section, between its two markers, is replaced when the
file exists, so other sections (speed) can live in the same file."""

import os

import numpy as np

BEGIN, END = "<!-- accuracy:begin -->", "<!-- accuracy:end -->"

PROTOCOL = """\
**Scenes** (`benchmarks/accuracy/make_scenes.py`, Blender {blender} as the `bpy` module,
Workbench, {w}x{h} px, film transparent): a UV sphere (smooth), a bevelled box (boxy), a
torus and a table on thin legs (thin parts, see-through gaps), Suzanne with subdivision
and a solidified bowl (concave), 2-4 viewpoints each ({n} views; the sphere from its
pole and the torus along its axis: rims grazing all round), fov 35-55 degrees across
the longer side.  Per view: the RGBA render, the true depth along the optical axis
(ray cast through every pixel centre with `mathutils.bvhtree`, exact; see the script's
docstring on why not the Z pass), the fov, and points sampled by area on the true surface
(100 k on the whole object; the visible ones -- first hit from the camera -- of 200 k).

**Methods** (each view, each in its own process):

| method | what runs |
|---|---|
| `truth` | the true mesh itself, sampled like a prediction: the metrics' floor (sampling noise) |
| `ours-true` | the pipeline on the true depth: `--depth-map depth.npy --fov FOV --frame camera` (mask = alpha), default `--back open` |
| `ours-true-mirror` | the same with `--back mirror` (closed solid: the front mirrored) |
| `ours-inflate` | `--depth-model inflate --fov FOV --frame camera` (no depth given: the silhouette inflated) |
| `ours-inflate-mirror` | the same with `--back mirror` |
| `prototype` | the original prototype's geometry on the same true depth: x1000, 16 px crop, squeezed to 8 bits, fixed focal 500 px, statistical outlier removal (20, 6), default normals, Poisson depth 10 untrimmed, one thread (`benchmarks/speed/prototype_baseline.py`'s steps) |

**Alignment.** Every reconstruction is in its own camera frame (x right, y down, z
forward, camera at the origin).  Metric ones (`truth`, `ours-true*`) are scored as they
come: no fitting.  (A fit is still computed and shown, as a check that the frames agree:
scale s = 1 and shift t = 0.)  Those without a metric scale (`ours-inflate*` puts the
object's front at 1 unit; `prototype` has z = 8-bit level / 1000 and focal 500 px) get one
scale about the camera centre (which keeps every point on its pixel's ray) and one shift
along the optical axis (the unknown offset of a depth without scale), fitted by trimmed
symmetric ICP of the visible part of the prediction to the true visible points; nothing
else (no rotation, no x/y shift, no anisotropic scale: the prototype's wrong focal length
stays wrong, as it would in use).

**Metrics** (`benchmarks/accuracy/metrics.py`), after scaling so that the true object's bounding
box (its own axes) has longest side 1: 100 k points sampled by area on the prediction
(numpy), nearest neighbours with scipy's `cKDTree`.  *Accuracy* = mean distance
prediction -> truth, *completeness* = mean distance truth -> prediction (Chamfer-L1 is their
mean); both below in % of the box's longest side.  *F@1%*, *F@2%*: F-score with
thresholds of 1% and 2% of the box's diagonal.  *NC*: normal consistency, mean
|n_pred . n_true| of nearest neighbours, both ways.  *Visible surface*: the prediction's
points that a camera at the origin sees (ray cast, open3d) against the true visible
points; *whole object*: all of the prediction against the whole true surface (an open
back cannot be complete: the whole-object scores of `--back open` show how much is
missing, not an error).  Time per stage: the pipeline's sidecar timings / the
prototype's clocks (its depth step is the x1000 / 8-bit step only, no network);
peak memory: the child process's VmHWM."""


def _get(row, *path):
    v = row
    for p in path:
        v = v.get(p) if isinstance(v, dict) else None
    return v


def _fmt(v, nd=3, pct=False, missing="fail"):
    if v is None:
        return missing
    return f"{100 * v:.2f}" if pct else f"{v:.{nd}f}"


def _mean(rows, *path):
    vals = [_get(r, *path) for r in rows]
    if not vals or any(v is None for v in vals):
        return None
    return float(np.mean(vals))


def _metric_cells(row_or_mean, part, labels):
    g = row_or_mean
    return [_fmt(g(part, f"f@{labels[0]}")), _fmt(g(part, f"f@{labels[1]}")),
            _fmt(g(part, "accuracy"), pct=True), _fmt(g(part, "completeness"), pct=True),
            _fmt(g(part, "nc"))]


def markdown(rows, methods, meta, fs, target):
    labels = [f"{f:g}" for f in fs]
    views = list(dict.fromkeys(r["view"] for r in rows))
    by = {(r["view"], r["method"]): r for r in rows}
    out = [BEGIN, "## Geometric accuracy on ground-truth renders", "",
           f"Made by `{meta['command']}` on {meta['date']} ({meta['machine']}), from scenes "
           f"made by `.venv-blender/bin/python -m benchmarks.accuracy.make_scenes --out "
           f"bench_data` (15 s).  The benchmark itself takes about 15 minutes on 2 cores (most of it scoring: 100 k-point samples, ray casts and k-d trees per run).", "",
           PROTOCOL.format(blender=meta.get("blender", "5.0"), w=meta["size"][0],
                           h=meta["size"][1], n=len(views)), ""]
    head = ("| method | vis F@1% | vis F@2% | vis acc | vis comp | vis NC | whole F@1% | "
            "whole F@2% | whole acc | whole comp | whole NC | time (s) | peak (MB) |")
    out += [f"### Mean over the {len(views)} views", "", head, "|---" * 13 + "|"]
    for m in methods:
        rs = [by[(v, m)] for v in views if (v, m) in by]
        cells = [f"`{m}`"]
        for part in ("visible", "whole"):
            cells += _metric_cells(lambda *p: _mean(rs, *p), part, labels)
        cells += [_fmt(_mean(rs, "seconds"), 2), _fmt(_max(rs, "peak_mb"), 0, missing="-")]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "acc, comp: mean distances in % of the object's longest side; time: the "
            "reconstruction's stages (sum); peak: the largest over the views.", ""]

    out += ["### Visible surface, F@1% per view", "",
            "| view | " + " | ".join(f"`{m}`" for m in methods) +
            " | ours-true - prototype | target |",
            "|---" * (len(methods) + 3) + "|"]
    for v in views:
        cells = [v] + [_fmt(_get(by.get((v, m), {}), "visible", f"f@{labels[0]}"))
                       for m in methods]
        ours = _get(by.get((v, "ours-true"), {}), "visible", f"f@{labels[0]}")
        base = _get(by.get((v, "prototype"), {}), "visible", f"f@{labels[0]}")
        cells.append(_fmt(ours - base) if ours is not None and base is not None else "")
        cells.append("" if ours is None else ("met" if ours >= target else "**missed**"))
        out.append("| " + " | ".join(cells) + " |")
    out += ["", f"Target: `ours-true` >= {target} on every view, with a clear margin over "
            "`prototype`.", ""]

    if meta.get("overlay"):
        out += [f"![A slice through {meta['overlay'][0]}: each method's mesh (red, aligned "
                f"as scored) over the true surface (grey)]({meta['overlay'][1]})", "",
                f"*Alignment check ({meta['overlay'][0]}): a slice through the middle "
                "image row seen from above, each reconstruction over the true surface.*",
                ""]
    out += ["### Every run", "", "<details><summary>all metrics, fits, stage times</summary>",
            "", "| view | method | vis F@1% | vis F@2% | vis acc | vis comp | vis NC | "
            "whole F@1% | whole F@2% | whole acc | whole comp | whole NC | fit s, t | "
            "stages (s) | peak (MB) |", "|---" * 15 + "|"]
    for v in views:
        for m in methods:
            r = by.get((v, m))
            if r is None:
                continue
            if "error" in r:
                out.append(f"| {v} | `{m}` | failed: {r['error'].splitlines()[-1]} |" +
                           " |" * 12)
                continue
            cells = [v, f"`{m}`"]
            for part in ("visible", "whole"):
                cells += _metric_cells(lambda *p: _get(r, *p), part, labels)
            s, t = r["fit"]
            cells.append(f"{s:.4g}, {t:+.3g}" + ("" if r["aligned"] else " (check)"))
            cells.append(", ".join(f"{k} {x:.2f}" for k, x in r["timings"].items()
                                   if x >= 0.005))
            cells.append(_fmt(r.get("peak_mb"), 0, missing="-"))
            out.append("| " + " | ".join(cells) + " |")
    out += ["", "</details>", "", END, ""]
    return "\n".join(out)


def _max(rows, key):
    vals = [r.get(key) for r in rows if r.get(key) is not None]
    return max(vals) if vals else None


def write(path, section, begin=BEGIN, end=END):
    """Write ``section`` (which starts with ``begin`` and ends with ``end``) into
    ``path``: replace the old section between those markers, or add it at the end, or
    create the file with a title."""
    text = None
    if os.path.exists(path):
        with open(path) as fh:
            text = fh.read()
    if text and begin in text and end in text:
        a, b = text.index(begin), text.index(end) + len(end)
        text = text[:a] + section.rstrip("\n") + text[b:]
    elif text:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        text = ("# Benchmarks\n\nMeasured, not asserted: each section says the command "
                "that made it.  Speed against the original prototype: `python -m "
                "benchmarks.speed`.\n\n" + section)
    with open(path, "w") as fh:
        fh.write(text)


def overlay(path, rows, scenes, view, samples=60000):
    """A picture to check the alignment: a horizontal slice (image rows near the object's
    middle) of every method's reconstruction, seen from above (x across, depth z up the
    page), over the true surface's slice.  Aligned as scored."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import metrics as bm

    gt = np.load(os.path.join(scenes, view, "gt.npz"))
    with open(os.path.join(scenes, view, "view.json")) as fh:
        info = json.load(fh)
    mine = [r for r in rows if r["view"] == view and "mesh" in r and r["method"] != "truth"]
    tv = gt["visible_points"]
    y0 = float(np.median(tv[:, 1] / tv[:, 2]))  # the middle image row, as y/z
    slab = 0.004 * max(info["object_size"])

    def cut(P):
        return P[np.abs(P[:, 1] - y0 * P[:, 2]) < slab]

    fig, axes = plt.subplots(1, len(mine), figsize=(3.2 * len(mine), 3.4), squeeze=False)
    tw = cut(gt["whole_points"])
    for ax, r in zip(axes[0], mine):
        V, T = bm.load_mesh(r["mesh"])
        P, _ = bm.sample_mesh(V, T, samples)
        P = cut(bm.apply_scale_shift(P, *r["fit"]) if r["aligned"] else P)
        ax.scatter(tw[:, 0], tw[:, 2], s=0.3, c="0.6", label="true (whole)")
        ax.scatter(P[:, 0], P[:, 2], s=0.3, c="tab:red", label="reconstruction")
        vis = r["visible"]["f@0.01"]
        ax.set_title(f"{r['method']}\nvisible F@1% {vis:.3f}", fontsize=9)
        ax.set_aspect("equal")
        ax.invert_yaxis()  # the camera at the top of the page, looking down
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7, markerscale=10, loc="lower left")
    fig.suptitle(f"{view}: slice through the middle image row, seen from above "
                 "(x across, depth down the page; camera above)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
