"""Benchmark of the Blender add-on: Generate -> object in the scene, against the worker's
own pipeline time in the same run, the first Generate after Blender starts with the worker
started ahead (worker_ahead.py) against a warm one, and the import of a 300k-triangle
colored mesh.

    IMG2MESH_PYTHON=$PWD/.venv/bin/python \\
        .venv-blender/bin/python -m benchmarks.speed.blender_addon [--repeat 3]

Runs in Blender as a Python module (bpy, background mode: the operator runs synchronously;
registered without preferences, 'Keep Models Loaded' counts as on: the worker stays warm).
The depth model is the full-size Depth Anything V2 Small architecture (transformers'
default ``DepthAnythingConfig()``, ~25 M parameters) with random weights, built into a temp
folder by the pipeline's Python (``python -m benchmarks.speed.inputs``, as
``benchmarks/speed/run.py`` uses it); background removal is the real u2netp from the models
folder (scripts/get_models.py).  A benchmark, not a test: it prints what it measured.
"""

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import bpy
import numpy as np

import blender_img2mesh
from blender_img2mesh.blender.scene import mesh_import
from blender_img2mesh.blender.client import ply, worker_client
from blender_img2mesh.blender.ops import worker_ahead

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PIPELINE_PYTHON = os.environ.setdefault("IMG2MESH_PYTHON", f"{REPO}/.venv/bin/python")

#: run by the pipeline's Python (torch stays out of this process), in the repository's
#: root: the depth model, the PLYs
INPUTS = ["-m", "benchmarks.speed.inputs"]


def inputs():
    """coffee.png of the pipeline venv's scikit-image; the models folder with u2netp."""
    from blender_img2mesh.pipeline.models import default_models_dir  # pure Python, no torch
    found = glob.glob(os.path.join(REPO, ".venv", "lib", "python3*", "site-packages",
                                   "skimage", "data", "coffee.png"))
    models = default_models_dir()
    if not found or not os.path.isfile(os.path.join(models, "u2netp.onnx")):
        sys.exit(f"need .venv's skimage coffee.png and {models}/u2netp.onnx (get_models.py)")
    return found[0], models


class Spy:
    """Wraps mesh_import.import_result: the worker's result and the import's time."""

    def __init__(self):  # the operator looks import_result up on the module at each call
        self.real, self.result, self.seconds = mesh_import.import_result, None, 0.0
        mesh_import.import_result = self

    def __call__(self, context, path, name, result=None, **kw):
        t0 = time.perf_counter()
        obj = self.real(context, path, name, result, **kw)
        self.seconds, self.result = time.perf_counter() - t0, result
        return obj

    def restore(self):
        mesh_import.import_result = self.real


def generate(spy, image, model, models):
    spy.result = None
    t0 = time.perf_counter()
    ret = bpy.ops.img2mesh.generate(filepath=image, depth_model="CUSTOM",
                                    depth_model_custom=model, offline=True,
                                    remove_background=True, segmenter="u2netp",
                                    models_dir=models)
    total = time.perf_counter() - t0
    if ret != {"FINISHED"} or spy.result is None:
        sys.exit(f"generate failed: {ret}")
    res, pipe = spy.result, float(spy.result["seconds"])  # the worker's run(), as it reports
    return dict(total=total, pipeline=pipe, overhead=total - pipe, imp=spy.seconds, verts=res[
        "vertices"], faces=res["faces"], model=float(res["timings"].get("model", 0.0)))


def started_ahead(spy, image, model, models, photo):
    """A Blender that has just started: no worker; the panel's settings are the Generate's;
    the worker is started ahead (as the panel's first draw does) and its preload read to
    the end (the user picking a photo meanwhile); then the first Generate, on a new photo.
    Returns (preload seconds as the worker reported them, the Generate's row)."""
    worker_client.release()
    worker_ahead.reset()
    s = bpy.context.scene.img2mesh
    s.filepath, s.depth_model, s.depth_model_custom = image, "CUSTOM", model
    s.offline, s.remove_background, s.segmenter, s.models_dir = True, True, "u2netp", models
    os.environ["IMG2MESH_WORKER_AHEAD"] = "1"  # background mode: asked for
    try:
        preload = worker_ahead.start()
        if preload is None:
            sys.exit(f"the worker was not started ahead: {worker_ahead.status}")
        while worker_ahead._poll() is not None:
            time.sleep(0.05)
    finally:
        worker_ahead.reset()
        del os.environ["IMG2MESH_WORKER_AHEAD"]
    if preload.result is None:
        sys.exit(f"preload failed: {preload.error}")
    return float(preload.result["seconds"]), generate(spy, photo, model, models)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def drop(mesh=None, obj=None):
    if obj is not None:
        mesh = obj.data
        for m in filter(None, list(mesh.materials)):
            bpy.data.materials.remove(m)
        bpy.data.objects.remove(obj)
    bpy.data.meshes.remove(mesh)


def add_colors(mesh, colors):
    """The color step of mesh_import.build_mesh alone (sRGB -> linear, attribute, active)."""
    rgba = np.ones((len(colors), 4), np.float32)
    rgba[:, :3] = ply.srgb_to_linear(colors)
    attr = mesh.color_attributes.new("Color", "FLOAT_COLOR", "POINT")
    attr.data.foreach_set("color", rgba.reshape(-1))
    mesh_import._make_active(mesh, attr)


def bench_import(path, repeat):
    """Median over ``repeat`` of: the whole import_result, PLY read, build_mesh, the color
    attribute step alone, and the depsgraph evaluation of the new object."""
    rows = {k: [] for k in ("total", "read", "build", "colors", "eval")}
    ctx = bpy.context
    for _ in range(repeat):
        t, data = timed(ply.read_ply, path)
        rows["read"].append(t)
        t, mesh = timed(mesh_import.build_mesh, "col", data)
        rows["build"].append(t)
        drop(mesh)
        mesh = mesh_import.build_mesh("geo", ply.PlyMesh(
            data.vertices, None, data.loop_start, data.loop_total, data.indices))
        rows["colors"].append(timed(add_colors, mesh, data.colors)[0])
        drop(mesh)
        t, obj = timed(mesh_import.import_result, ctx, path, "big")
        rows["total"].append(t)
        rows["eval"].append(timed(ctx.view_layer.update)[0])
        faces = len(obj.data.polygons)
        drop(obj=obj)
    med = {k: statistics.median(v) for k, v in rows.items()}
    med["faces"], med["geometry"] = faces, med["build"] - med["colors"]
    med["other"] = med["total"] - med["read"] - med["build"]
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="warm runs / import runs")
    opts = ap.parse_args(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else None)
    image, models = inputs()
    tmp = tempfile.mkdtemp(prefix="img2mesh-bench-")
    model, big = os.path.join(tmp, "depth_anything_v2_small"), os.path.join(tmp, "big.ply")
    textured = os.path.join(tmp, "textured.ply")
    spy = Spy()
    try:
        print("building the random-weights Depth Anything V2 Small and the 300k PLY", flush=True)
        for what, target in (("depth-anything", model), ("big-ply", big),
                             ("big-textured-ply", textured)):
            subprocess.run([PIPELINE_PYTHON, *INPUTS, what, target], check=True, cwd=REPO)
        bpy.ops.wm.read_factory_settings(use_empty=True)
        blender_img2mesh.register()
        try:
            worker_client.release()  # cold: no worker yet
            runs = [generate(spy, image, model, models)]
            worker = worker_client.warm_worker()
            for i in range(opts.repeat):  # a new photo each time (the worker would reuse
                copy = os.path.join(tmp, f"photo-{i}.png")  # the same file's mask+depth)
                shutil.copyfile(image, copy)
                runs.append(generate(spy, copy, model, models))
            same = worker is not None and worker_client.warm_worker() is worker
            first = os.path.join(tmp, "photo-first.png")
            shutil.copyfile(image, first)
            preload_s, ahead = started_ahead(spy, image, model, models, first)
            worker_client.release()  # the same first Generate without starting ahead
            plain = os.path.join(tmp, "photo-plain.png")  # (the ONNX file exists by now)
            shutil.copyfile(image, plain)
            not_ahead = generate(spy, plain, model, models)
            spy.restore()
            imp = bench_import(big, opts.repeat)
            tex = bench_import(textured, opts.repeat)
        finally:
            blender_img2mesh.unregister()  # also releases the warm worker
    finally:
        spy.restore()
        worker_client.release()
        shutil.rmtree(tmp, ignore_errors=True)

    cold, warm = runs[0], runs[1:]  # overhead = total - pipeline; other = overhead - import
    print(f"\nGenerate (coffee.png, u2netp + Depth Anything V2 Small random weights, CPU, "
          f"{cold['verts']} vertices / {cold['faces']} faces; warm worker reused: {same})")
    print(f"{'run':<9}{'total s':>8}{'pipeline s':>12}{'overhead s':>12}{'import s':>10}"
          f"{'other s':>9}{'model load s':>14}")
    row = "{:<9}{total:8.2f}{pipeline:12.2f}{overhead:12.2f}{imp:10.3f}{other:9.2f}{model:14.2f}"
    for i, r in enumerate(runs):
        print(row.format("cold" if i == 0 else f"warm {i}", other=r["overhead"] - r["imp"], **r))
    if warm:
        m = {k: statistics.median(r[k] for r in warm) for k in ("total", "pipeline", "overhead",
                                                                "imp", "model")}
        print(row.format("warm med", other=m["overhead"] - m["imp"], **m))
        print(f"warm overhead (total - pipeline) {m['overhead']:.2f} s, of which mesh import "
              f"{m['imp']:.3f} s; target <= 0.5 s: {'OK' if m['overhead'] <= 0.5 else 'OVER'}")
        print(row.format("ahead 1st", other=ahead["overhead"] - ahead["imp"], **ahead))
        print(row.format("plain 1st", other=not_ahead["overhead"] - not_ahead["imp"],
                         **not_ahead))
        ratio = ahead["total"] / m["total"]
        print(f"first Generate after start, worker started ahead (preload {preload_s:.2f} s "
              f"before it): {ahead['total']:.2f} s vs warm {m['total']:.2f} s = {ratio:.2f}x; "
              f"target <= 1.5x: {'OK' if ratio <= 1.5 else 'OVER'}; without starting ahead "
              f"{not_ahead['total']:.2f} s = {not_ahead['total'] / m['total']:.2f}x")
    print(f"\nImport of {imp['faces']} colored triangles (import_result, median of {opts.repeat})")
    print(f"{'total':>8}{'PLY read':>10}{'geometry':>10}{'colors':>8}{'material+link':>15}"
          f"{'(depsgraph eval)':>18}")
    print(f"{imp['total']:8.3f}{imp['read']:10.3f}{imp['geometry']:10.3f}{imp['colors']:8.3f}"
          f"{imp['other']:15.3f}{imp['eval']:18.3f}")
    print(f"import {imp['total']:.3f} s; target <= 0.5 s: "
          f"{'OK' if imp['total'] <= 0.5 else 'OVER'} (depsgraph eval not included)")
    extra = tex["total"] - imp["total"]
    print(f"the same with UVs and a 4096 px JPEG texture (packed): {tex['total']:.3f} s, "
          f"the texture adds {extra:.3f} s; target <= 0.2 s: "
          f"{'OK' if extra <= 0.2 else 'OVER'}")


if __name__ == "__main__":
    main()
