"""Photo fidelity: how much of the photo the mesh shows, seen through the photo's camera.

    .venv/bin/python -m benchmarks.accuracy.fidelity [--scenes bench_data] [--cost]
        [--out docs/benchmarks.md]

For each photo the pipeline makes a mesh (``--frame camera``, ``.ply`` with both the
texture and vertex colours), read back with trimesh; the mesh is ray cast (open3d's
RaycastingScene) through the photo's camera at the photo's full resolution and compared
with the photo:

* PSNR (dB) over the pixels inside the object's mask that the mesh covers, once with
  the texture and once with the vertex colours alone;
* IoU of the mesh's silhouette with the mask.

Photos: scikit-image's coffee, astronaut and motorcycle (u2netp mask, silhouette
inflation depth: the depth does not change what the photo's own camera sees), each at the
defaults and with ``--target-faces 5000``; with ``--scenes``, the ground-truth renders of
``docs/benchmarks.md`` (true mask from the render's alpha, true depth, true fov).
"""

import argparse
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PHOTOS = ("coffee.png", "astronaut.png", "motorcycle_left.png")
BEGIN, END = "<!-- fidelity:begin -->", "<!-- fidelity:end -->"
PROTOCOL = """\
Each mesh (`--frame camera`, `.ply` with both the texture and vertex colours, read back
with trimesh) is ray cast (open3d's RaycastingScene, rays through every pixel centre) at
the photo's full resolution through the photo's own camera (the pipeline's focal length
scaled to the photo) and compared with the photo: PSNR over the pixels of the object's
mask that the mesh covers -- textured, and with the vertex colours alone -- and the IoU of
the mesh's silhouette with the mask.  Real photos: scikit-image's, u2netp's mask,
silhouette-inflation depth (what the photo's own camera sees does not depend on the
depth), at the defaults and with `--target-faces 5000`.  Ground-truth views (`true
depth`): the renders of the accuracy benchmark (above) with their true mask (alpha), depth
and fov; they are PNG, so their texture is PNG (lossless) and its PSNR is the mapping's
own error.  Targets: textured >= 40 dB at the defaults and with 5000 faces; silhouette
IoU >= 0.99 on every ground-truth view.

The cost table: `--color both` against `--color vertex`, each a whole run in a fresh
process (imports included, median of 3), the export stage's time from the sidecar (the
texture is built in both modes -- the vertex colours are sampled from it -- so the
difference is encoding and writing it; building it takes 0.08 s on coffee, 0.45 s at
4096 px, profiled), and the peak memory (set by the models, not the texture)."""
CONFIGS = (("defaults", []), ("5000 faces", ["--target-faces", "5000"]))


def psnr(a, b):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def make(photo, out, options):
    """Run the pipeline in this process; returns (result, the working-size mask)."""
    from blender_img2mesh.pipeline.geometry import reconstruct
    from blender_img2mesh.pipeline.cli import parse_args
    from blender_img2mesh.pipeline.progress import Reporter
    from blender_img2mesh.pipeline.run import run

    seen = {}
    build = reconstruct.build_surface

    def keep_mask(args, z, mask, f, reporter):
        seen["mask"] = mask.copy()
        return build(args, z, mask, f, reporter)

    reconstruct.build_surface = keep_mask
    try:
        result = run(parse_args([photo, "-o", out, "--frame", "camera", "-q", *options]),
                     Reporter())
    finally:
        reconstruct.build_surface = build
    return result, seen["mask"]


def score(photo, result, mask_work):
    """(PSNR texture, PSNR vertex colours, silhouette IoU, pixels compared)."""
    import trimesh

    from blender_img2mesh.pipeline.output import render, texture
    from blender_img2mesh.pipeline.source.image_io import load_photo

    rgb, _ = load_photo(photo)
    H, W = rgb.shape[:2]
    mesh = trimesh.load(result["mesh"], process=False)
    V, T = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    uv = np.asarray(mesh.visual.uv)
    image = np.asarray(mesh.visual.material.image.convert("RGB"))
    with open(result["mesh"], "rb") as fh:  # trimesh keeps the texture, not the colours
        colors = _ply_colors(fh.read())
    f = result["focal_px"] * W / result["working_size"][0]
    tex, hit = render.through_camera(V, T, f, W, H, uv=uv, image=image)
    col, _ = render.through_camera(V, T, f, W, H, colors=colors)
    mask = texture.full_mask(mask_work, (H, W))
    both = mask & hit
    iou = np.count_nonzero(both) / max(1, np.count_nonzero(mask | hit))
    return psnr(tex[both], rgb[both]), psnr(col[both], rgb[both]), iou, int(both.sum())


def _ply_colors(data):
    """The vertex colours of a binary PLY as the pipeline writes it."""
    body = data.index(b"end_header\n") + len(b"end_header\n")
    fields, in_vertex, n = [], False, 0
    for words in (line.split() for line in data[:body].decode().splitlines()):
        if words[:1] == ["element"]:
            in_vertex = words[1] == "vertex"
            n = int(words[2]) if in_vertex else n
        elif words[:1] == ["property"] and in_vertex:
            fields.append((words[2], {"float": "<f4", "uchar": "u1"}[words[1]]))
    arr = np.frombuffer(data, np.dtype(fields), n, body)
    return np.column_stack([arr["red"], arr["green"], arr["blue"]]).astype(np.float64)


def cost(photo, repeat=3):
    """What the texture adds: ``--color both`` against ``--color vertex`` on the same
    photo, each a whole run in a child process (imports included), medians of
    ``repeat``: the wall time, the export stage's time from the sidecar (where the
    texture is made, encoded and written: the texture's own cost, free of the noise of
    model loading) and the peak memory; also on a 4096 px version of the photo."""
    import json
    import subprocess

    from PIL import Image

    def child(args, sidecar):
        code = ("import resource, sys, time; t = time.perf_counter(); "
                "from blender_img2mesh.pipeline.cli import main; rc = main(sys.argv[1:]); "
                "print('@@', time.perf_counter() - t, "
                "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)")
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                             text=True, cwd=ROOT, check=True).stdout
        wall, peak = out.rsplit("@@", 1)[1].split()
        with open(sidecar) as fh:
            export = json.load(fh)["timings"]["export"]
        return float(wall), export, float(peak)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "big.png")
        img = Image.open(photo).convert("RGB")
        img.resize((4096, round(4096 * img.height / img.width)), Image.LANCZOS).save(big)
        for label, src in (("coffee", photo), ("coffee at 4096 px", big)):
            out = {}
            for mode in ("vertex", "both"):
                mesh = os.path.join(tmp, f"{mode}.ply")
                runs = [child([src, "-o", mesh, "-q", "--depth-model", "inflate", "--color",
                               mode], os.path.join(tmp, f"{mode}.json"))
                        for _ in range(repeat)]
                out[mode] = [float(np.median([r[k] for r in runs])) for k in range(3)]
            (w0, e0, m0), (w1, e1, m1) = out["vertex"], out["both"]
            rows.append(f"| {label} | {w0:.2f} s | {w1:.2f} s | {e0:.3f} s | {e1:.3f} s | "
                        f"{e1 - e0:+.3f} s | {m0:.0f} MB | {m1:.0f} MB | {m1 - m0:+.0f} MB |")
            print(rows[-1], flush=True)
    return ["| photo | run, vertex colours | run, + texture | export stage, vertex | "
            "export stage, + texture | texture adds | peak, vertex | peak, + texture | "
            "adds |", "|---|---|---|---|---|---|---|---|---|", *rows]


def scenes(folder):
    """Ground-truth views: (name, image, extra options)."""
    import json

    for name in sorted(os.listdir(folder)):
        view = os.path.join(folder, name)
        if not os.path.isfile(os.path.join(view, "view.json")):
            continue
        with open(os.path.join(view, "view.json")) as fh:
            info = json.load(fh)
        yield name, os.path.join(view, "image.png"), [
            "--depth-map", os.path.join(view, "depth.npy"), "--fov", str(info["fov_deg"])]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenes", help="ground-truth views (python -m benchmarks.accuracy.make_scenes)")
    p.add_argument("--out", help="also write the table (Markdown) here")
    p.add_argument("--photos", default=",".join(PHOTOS), help="scikit-image photos")
    p.add_argument("--cost", action="store_true", help="also time what the texture adds "
                   "(whole runs, --color both vs --color vertex) and its peak memory")
    a = p.parse_args(argv)
    import skimage.data

    data = os.path.dirname(skimage.data.__file__)
    jobs = [(name, os.path.join(data, name), label, opts, ["--depth-model", "inflate"])
            for name in a.photos.split(",") if name for label, opts in CONFIGS]
    if a.scenes:
        jobs += [(name, image, "true depth", [], extra) for name, image, extra in
                 scenes(a.scenes)]
    rows = ["| photo | mesh | faces | texture PSNR | vertex colours PSNR | silhouette IoU |",
            "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, photo, label, opts, extra in jobs:
            out = os.path.join(tmp, os.path.splitext(name)[0] + ".ply")
            result, mask = make(photo, out, [*extra, *opts])
            t, v, iou, n = score(photo, result, mask)
            rows.append(f"| {name} | {label} | {result['faces']} | {t:.1f} dB | {v:.1f} dB | "
                        f"{iou:.4f} |")
            print(rows[-1], flush=True)
    if a.cost:
        rows += ["", *cost(os.path.join(data, "coffee.png"))]
    if a.out:
        import datetime
        import platform

        from .report import write

        command = "python -m benchmarks.accuracy.fidelity " + " ".join(
            sys.argv[1:] if argv is None else argv)
        machine = f"{platform.machine()}, {os.cpu_count()} cores"
        write(a.out, "\n".join([
            BEGIN, "## Photo fidelity: the photo through its own camera", "",
            f"Made by `{command}` on {datetime.date.today()} ({machine}).", "", PROTOCOL,
            "", *rows, "", END, ""]), BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
