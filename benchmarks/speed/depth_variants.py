"""Which network of a ready ONNX repository runs by default (fp32, fp16 or int8), by
measurement; and the ONNX repository path against today's exported path.

    python -m benchmarks.speed.depth_variants [--work DIR] [--runs N] [--skip-generate]

What it does, on the FULL-SIZE Depth Anything V2 Small architecture (its published
config: DINOv2 ViT-S/14, 24.8 M parameters) with random weights -- the real weights are
not reachable from here:

1. builds the model with transformers, exports it with the project's exporter
   (:func:`onnx_export.write_checked`, which proves it against PyTorch) into an ONNX
   repository folder laid out like onnx-community's, and makes fp16 and int8 as those
   repositories are made (:mod:`benchmarks.speed.onnx_variants`);
2. speed of each variant: session creation and ``predict`` on a 512 x 384 photo (the
   pipeline's default working size), median of ``--runs``;
3. agreement with fp32 inside the object (u2netp's mask of a real photo): maximum and
   mean relative difference of the raw map (relative to fp32's range inside the mask), and
   how far the mesh moves (each pixel's point, relative depth -> metric as the pipeline
   does it, as % of the mesh's bounding-box diagonal: maximum, 99th percentile, mean) --
   with these random weights AND on the tiny test model (tests/tiny_onnx_repo.py);
4. the repository path (its own config.json + preprocessor_config.json, numpy processing,
   onnxruntime) against transformers on PyTorch (its own processor and post-processing):
   maximum relative difference, fp32;
5. Generate on a 12-megapixel photo (whole process, wall clock): the repository path
   against today's path (the transformers folder, exported once before timing);
6. import time of a depth job in the warm worker (``python -X importtime``).
Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VARIANTS = ("fp32", "fp16", "int8")
#: Depth-Anything-V2-Small-hf's config.json (the architecture; the weights are random)
SMALL = dict(
    backbone=dict(image_size=518, patch_size=14, hidden_size=384, num_hidden_layers=12,
                  num_attention_heads=6, mlp_ratio=4, layerscale_value=1.0,
                  out_indices=[3, 6, 9, 12], reshape_hidden_states=False,
                  apply_layernorm=True),
    fusion_hidden_size=64, head_hidden_size=32, neck_hidden_sizes=[48, 96, 192, 384],
    reassemble_hidden_size=384, reassemble_factors=[4, 2, 1, 0.5], patch_size=14,
    depth_estimation_type="relative")


def full_size_model(seed=0):
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    torch.manual_seed(seed)
    cfg = dict(SMALL)
    backbone = Dinov2Config(**cfg.pop("backbone"))
    return DepthAnythingForDepthEstimation(DepthAnythingConfig(backbone_config=backbone,
                                                               **cfg)).eval()


def build_repo(work, model, name):
    """``(repo, source)`` folders of ``model`` under ``work/name``."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from tiny_onnx_repo import PREPROCESSOR, write_configs

    from blender_img2mesh.pipeline.depth import onnx_export, prep

    from . import onnx_variants

    repo, source = os.path.join(work, name, "repo"), os.path.join(work, name, "source")
    if os.path.isfile(os.path.join(repo, "onnx", onnx_variants.FILES["int8"])):
        return repo, source
    model.save_pretrained(source)
    with open(os.path.join(source, "preprocessor_config.json"), "w") as fh:
        json.dump(PREPROCESSOR, fh)
    write_configs(repo)
    fp32 = os.path.join(repo, "onnx", onnx_variants.FILES["fp32"])
    reason = onnx_export.write_checked(model, prep.read_config(repo)[2], fp32)
    if reason:
        raise SystemExit(f"export failed: {reason}")
    onnx_variants.write_variants(fp32, os.path.dirname(fp32))
    return repo, source


def photo(name="astronaut.png", size=(512, 384)):
    import skimage.data

    img = Image.open(os.path.join(os.path.dirname(skimage.data.__file__), name))
    return np.asarray(img.convert("RGB").resize(size, Image.LANCZOS))


def object_mask(rgb):
    from blender_img2mesh.pipeline.mask import segment
    from blender_img2mesh.pipeline.models import default_models_dir

    session = segment.rembg_session("u2netp", default_models_dir(), False)
    return segment.clean_mask(segment.remove_background(rgb, session))


def points(raw, mask, f):
    """The pipeline's relative depth -> camera-frame points of the masked pixels."""
    from blender_img2mesh.pipeline.depth import convert

    z = convert.relative_to_depth(raw, mask, f, 0.5)
    h, w = raw.shape
    ys, xs = np.nonzero(mask)
    zz = z[ys, xs]
    return np.stack([(xs - w / 2) * zz / f, (ys - h / 2) * zz / f, zz], axis=1)


def agreement(ref, raw, mask):
    from blender_img2mesh.pipeline.geometry import camera

    h, w = ref.shape
    span = float(np.ptp(ref[mask])) or 1.0
    rel = np.abs(raw - ref)[mask] / span
    f = camera.focal_px(w, h, 50.0)
    a, b = points(ref, mask, f), points(raw, mask, f)
    diag = float(np.linalg.norm(a.max(0) - a.min(0)))
    move = np.linalg.norm(a - b, axis=1) / diag * 100
    return dict(max_rel=float(rel.max()), mean_rel=float(rel.mean()),
                move_max=float(move.max()), move_p99=float(np.percentile(move, 99)),
                move_mean=float(move.mean()))


def load(repo, variant):
    from blender_img2mesh.pipeline.depth import onnx_repo

    t = time.perf_counter()
    est = onnx_repo.load(repo, onnx_repo.network(repo, variant), "cpu", keep_optimized=False)
    return est, time.perf_counter() - t


def speed_and_agreement(repo, rgb, mask, runs):
    """Per variant: file size, session creation, ``predict`` wall time (least and median
    of ``runs``, the variants taking turns: the cores are shared) and its CPU time
    (median; less disturbed by other processes), and the agreement with fp32."""
    ests, out = {}, {}
    for variant in VARIANTS:
        ests[variant], made = load(repo, variant)
        ests[variant].predict(rgb)  # first run: buffers
        out[variant] = dict(size_mb=os.path.getsize(ests[variant].path) / 1e6,
                            session_s=made, wall=[], cpu=[])
    raws = {}
    for _ in range(runs):
        for variant, est in ests.items():
            t, c = time.perf_counter(), time.process_time()
            raws[variant], _ = est.predict(rgb)
            out[variant]["cpu"].append(time.process_time() - c)
            out[variant]["wall"].append(time.perf_counter() - t)
    for variant, row in out.items():
        wall, cpu = row.pop("wall"), row.pop("cpu")
        row.update(predict_min=min(wall), predict_median=statistics.median(wall),
                   cpu_s=statistics.median(cpu), **agreement(raws["fp32"], raws[variant],
                                                              mask))
    return out


def repo_vs_torch(repo, source, rgb):
    from blender_img2mesh.pipeline.depth import estimate

    want, _ = estimate.DepthEstimator(source, "cpu").predict(rgb)
    got, _ = load(repo, "fp32")[0].predict(rgb)
    return float(np.abs(got - want).max() / np.abs(want).max()), float(want.std() /
                                                                        np.abs(want).mean())


def timed_cli(args, env=None):
    """(wall seconds, CPU seconds of the process, its result) of one command line run."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "blender_img2mesh", *map(str, args),
                           "--json"], capture_output=True, text=True, timeout=1800,
                          env=dict(os.environ, **(env or {})), cwd=ROOT)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"generate failed: {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = [json.loads(x) for x in proc.stdout.splitlines() if '"result"' in x][-1]
    return wall, cpu, result


def generate(work, repo, source, variant, runs):
    """Whole-process wall clock of Generate on a 12 MP photo, both paths."""
    from blender_img2mesh.pipeline.models import default_models_dir

    big = os.path.join(work, "photo_12mp.jpg")
    if not os.path.isfile(big):
        Image.fromarray(photo(size=(4000, 3000))).save(big, quality=92)
    models = os.path.join(work, "models")
    os.makedirs(models, exist_ok=True)
    u2 = os.path.join(models, "u2netp.onnx")
    if not os.path.lexists(u2):
        os.symlink(os.path.join(default_models_dir(), "u2netp.onnx"), u2)
    # the repository where a download puts it: the models folder, under its hub id
    placed = os.path.join(models, "onnx-community--depth-anything-v2-small")
    if not os.path.lexists(placed):
        os.symlink(repo, placed)
    common = [big, "-o", os.path.join(work, "out.glb"), "--models-dir", models, "--offline"]
    paths = {
        f"ONNX repository ({variant})": ["--depth-model", "depth-anything-v2-small",
                                         "--depth-variant", variant],
        "today: transformers folder, exported": ["--depth-model", source,
                                                 "--depth-backend", "onnx"],
    }
    for extra in paths.values():
        timed_cli(common + extra)  # once: the export / the optimised graph are made here
    got = {label: [] for label in paths}
    for _ in range(runs):  # taking turns: the cores are shared
        for label, extra in paths.items():
            got[label].append(timed_cli(common + extra))
    out = {}
    for label, runs_ in got.items():
        out[label] = dict(
            wall_min=min(w for w, _, _ in runs_), cpu_s=statistics.median(c for _, c, _ in runs_),
            model_s=min(r["timings"]["model"] for _, _, r in runs_),
            depth_s=min(r["timings"]["depth"] for _, _, r in runs_))
    return out


def import_time(work, repo):
    """Total import time (the sum of every module's own time) of a warm worker that runs
    one depth job on the repository, and its largest top-level packages."""
    rgb = photo(size=(320, 240))
    src = os.path.join(work, "small.png")
    Image.fromarray(rgb).save(src)
    request = {"id": 1, "args": [src, "-o", os.path.join(work, "small.ply"), "--depth-model",
                                 repo, "--offline", "--keep-background", "--max-size", "128"]}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m",
                           "blender_img2mesh.pipeline.worker"], input=json.dumps(request) +
                          "\n", capture_output=True, text=True, timeout=600, cwd=ROOT)
    if proc.returncode or '"result"' not in proc.stdout:
        raise SystemExit(f"the worker's job failed: {proc.stderr[-2000:]}")
    total, top, names = 0, {}, set()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = line[len("import time:"):].split("|")
        total += int(self_us)
        names.add(name.strip().split(".")[0])
        if not name[1:].startswith(" "):  # a top-level import: its cumulative time
            base = name.strip().split(".")[0]
            top[base] = top.get(base, 0) + int(cumulative)
    heavy = sorted(top.items(), key=lambda kv: -kv[1])[:6]
    return total / 1e6, [(k, v / 1e6) for k, v in heavy], sorted(
        names & {"torch", "transformers", "diffusers"})


def tiny_agreement(work, rgb, mask):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from tiny_onnx_repo import build

    folder = os.path.join(work, "tiny")
    repo = os.path.join(folder, "repo")
    if not os.path.isdir(repo):
        build(folder)
    ref = None
    out = {}
    for variant in VARIANTS:
        raw, _ = load(repo, variant)[0].predict(rgb)
        ref = raw if ref is None else ref
        out[variant] = agreement(ref, raw, mask)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "img2mesh_variants"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--skip-generate", action="store_true")
    p.add_argument("--variant", default="fp32", choices=VARIANTS,
                   help="the repository's variant in the Generate comparison")
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    t0 = time.perf_counter()
    model = full_size_model()
    params = sum(x.numel() for x in model.parameters()) / 1e6
    repo, source = build_repo(args.work, model, "small")
    del model
    rgb = photo()
    mask = object_mask(rgb)
    rows = speed_and_agreement(repo, rgb, mask, args.runs)
    tiny = tiny_agreement(args.work, rgb, mask)
    vs_torch, lively = repo_vs_torch(repo, source, rgb)
    gen = {} if args.skip_generate else generate(args.work, repo, source, args.variant, 3)
    imports = sorted((import_time(args.work, repo) for _ in range(3)), key=lambda r: r[0])
    imp, heavy, torch_in = imports[0]  # the least disturbed of three (shared cores)
    print(f"<!-- made by python -m benchmarks.speed.depth_variants on {time.strftime('%Y-%m-%d')}, "
          f"{platform.machine()}, {os.cpu_count()} cores, {time.perf_counter() - t0:.0f} s -->")
    print(f"Full-size Depth Anything V2 Small ({params:.1f} M parameters, random weights); "
          "photo 512 x 384 (network input 518 x 392), object mask by u2netp.\n")
    print("| variant | file | session | predict (least / median) | predict CPU | max rel. "
          "diff | mean rel. diff | mesh moves max / p99 / mean | tiny model: max rel. / "
          "mesh max |")
    print("|---|---|---|---|---|---|---|---|---|")
    for v, r in rows.items():
        t = tiny[v]
        print(f"| {v} | {r['size_mb']:.1f} MB | {r['session_s']:.2f} s | "
              f"{r['predict_min']:.2f} / {r['predict_median']:.2f} s | {r['cpu_s']:.2f} s | "
              f"{r['max_rel']:.2g} | {r['mean_rel']:.2g} | "
              f"{r['move_max']:.2g} / {r['move_p99']:.2g} / {r['move_mean']:.2g} % | "
              f"{t['max_rel']:.2g} / {t['move_max']:.2g} % |")
    print(f"\nRepository path (fp32) vs transformers on PyTorch: max relative difference "
          f"{vs_torch:.2g} (map's std/mean {lively:.2g}).")
    for label, g in gen.items():
        print(f"\nGenerate, 12 MP photo, {label}: {g['wall_min']:.1f} s whole process "
              f"(least of 3), {g['cpu_s']:.1f} s CPU (median); model stage "
              f"{g['model_s']:.2f} s, depth {g['depth_s']:.2f} s (least)")
    print(f"\nWorker, one depth job on the repository: imports {imp:.2f} s in total "
          f"(least of 3; of torch/transformers/diffusers imported: {torch_in or 'none'}); "
          "largest top-level, cumulative: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in heavy))


if __name__ == "__main__":
    main()
