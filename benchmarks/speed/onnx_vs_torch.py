"""Benchmark: the depth network on ONNX Runtime against PyTorch, in one run.

    .venv/bin/python -m benchmarks.speed.onnx_vs_torch [--image PATH] [--repeat N] [--runs N]

A benchmark, not a test: it prints what it measured in this run (nothing is compared with
stored numbers).  Networks: the full-size GLPN-NYU architecture (MiT-b4, ~61 M parameters)
and Depth Anything V2 Small (ViT-S/14 + DPT head, ~25 M), random weights, saved like real
models (``benchmarks/speed/inputs.py``); each is exported to ONNX once by the pipeline itself
(``depth.load_estimator``; the export's time is printed too).

1. Forward pass: the same input tensor (the photo preprocessed as the pipeline does at
   ``--max-size``), PyTorch (``torch.inference_mode``) and onnxruntime alternating in one
   process, ``--repeat`` times each after a warm-up; medians, and the threads each used.
2. Whole process, fresh each time: ``python -m blender_img2mesh PHOTO`` with u2netp
   background removal and the model, ``--depth-backend torch`` and ``onnx`` alternating,
   ``--runs`` times each; median wall time and the peak memory (RSS high-water mark).
3. Imports: ``python -X importtime`` of one fresh run per backend; the ten top-level imports
   with the largest cumulative time (what the run imported, nested imports included).

The machine may be shared: runs alternate so a busy spell hits both backends, and medians
are quoted; the load average is printed.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def forward_times(folder, models_dir, rgb, repeat):
    import numpy as np
    import torch

    from blender_img2mesh.pipeline.depth import estimate as depth, prep as depth_prep

    t0 = time.perf_counter()
    onnx_est = depth.load_estimator(folder, "cpu", "onnx", models_dir)
    export_s = time.perf_counter() - t0
    torch_est = depth.DepthEstimator(folder, "cpu")
    x = depth_prep.preprocess(rgb, onnx_est.proc)
    xt = torch.from_numpy(x)
    times = {"torch": [], "onnx": []}

    def run_torch():
        with torch.inference_mode():
            return torch_est.model(pixel_values=xt).predicted_depth.numpy()

    a, b = run_torch(), onnx_est.forward(x)  # warm-up (first-call allocations)
    diff = float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))
    for _ in range(repeat):
        for name, fn in (("torch", run_torch), ("onnx", lambda: onnx_est.forward(x))):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {"export_s": export_s, "input": list(x.shape[-2:]), "diff": diff,
            "torch_threads": torch.get_num_threads(), "onnx_threads": onnx_est.threads,
            "providers": onnx_est.session.get_providers(),
            **{k: statistics.median(v) for k, v in times.items()}}


#: ``python -m blender_img2mesh ARGS`` that prints its own peak memory at exit: VmHWM of
#: the process after exec (getrusage would count this big parent's pages, forked with it)
MAIN = """
import atexit, runpy, sys
def hwm():
    with open("/proc/self/status") as fh:
        kb = [l.split()[1] for l in fh if l.startswith("VmHWM:")]
    print("@@HWM " + (kb[0] if kb else "0"), file=sys.stderr)
atexit.register(hwm)
runpy.run_module("blender_img2mesh", run_name="__main__", alter_sys=True)
"""


def fresh_run(argv, importtime=False):
    """(wall seconds, peak RSS MB, stderr) of one ``python -m blender_img2mesh`` run."""
    cmd = [sys.executable] + (["-X", "importtime"] if importtime else []) + \
        ["-c", MAIN, *argv]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"onnx_vs_torch: {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    peak = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("@@HWM")]
    return wall, int(peak[-1]) / 1024.0 if peak else float("nan"), proc.stderr


def import_table(stderr, top=10):
    """[(cumulative s, self s, module)] of the top-level imports, largest first, and the
    sum of all top-level cumulative times."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        try:
            self_us, cum_us = int(parts[0]), int(parts[1])
        except ValueError:
            continue  # the header
        name = parts[2]
        if name.startswith(" ") and not name.startswith("  "):  # top level: one space
            rows.append((cum_us / 1e6, self_us / 1e6, name.strip()))
    rows.sort(reverse=True)
    return rows[:top], sum(r[0] for r in rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    import skimage.data

    p.add_argument("--image", default=os.path.join(os.path.dirname(skimage.data.__file__),
                                                   "coffee.png"))
    p.add_argument("--max-size", type=int, default=512)
    p.add_argument("--repeat", type=int, default=5, help="forward passes per backend")
    p.add_argument("--runs", type=int, default=3, help="fresh processes per backend")
    args = p.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore")
    from .inputs import make_default_network, make_network
    from blender_img2mesh.pipeline.source import image_io
    from blender_img2mesh.pipeline import models

    print(f"onnx_vs_torch: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the "
          "start (the machine may be shared: medians below)", flush=True)
    rgb = image_io.resize_rgb(image_io.load_photo(args.image)[0], args.max_size)
    u2netp = os.path.join(models.default_models_dir(), "u2netp.onnx")
    with tempfile.TemporaryDirectory(prefix="img2mesh-bench-onnx-") as tmp:
        models_dir = os.path.join(tmp, "models")
        os.makedirs(models_dir)
        os.symlink(u2netp, os.path.join(models_dir, "u2netp.onnx"))
        nets = {"GLPN-NYU (MiT-b4)": os.path.join(models_dir, "glpn-nyu-random"),
                "Depth Anything V2 Small": os.path.join(models_dir, "da-v2-small-random")}
        make_network(nets["GLPN-NYU (MiT-b4)"])
        make_default_network(nets["Depth Anything V2 Small"])
        print("\nForward pass (same input, same process, alternating; median of "
              f"{args.repeat}):")
        print(f"{'network':26} {'input WxH':>10} {'torch s':>8} {'onnx s':>8} "
              f"{'torch/onnx':>10} {'threads t/o':>11} {'max diff':>9} {'export s':>8}")
        for label, folder in nets.items():
            r = forward_times(folder, models_dir, rgb, args.repeat)
            print(f"{label:26} {r['input'][1]:>4}x{r['input'][0]:<5} {r['torch']:8.3f} "
                  f"{r['onnx']:8.3f} {r['torch'] / r['onnx']:10.2f} "
                  f"{r['torch_threads']:>5}/{r['onnx_threads']:<5} {r['diff']:9.1e} "
                  f"{r['export_s']:8.1f}", flush=True)
        print(f"  onnxruntime providers: {r['providers']}")

        print(f"\nWhole process, fresh each time ({os.path.basename(args.image)}, u2netp, "
              f"--max-size {args.max_size}; median of {args.runs}, alternating):")
        print(f"{'network':26} {'torch s':>8} {'onnx s':>8} {'torch/onnx':>10} "
              f"{'peak MB t/o':>12}")
        imports = {}
        for label, folder in nets.items():
            out = os.path.join(tmp, "out.ply")
            base = [args.image, "-o", out, "--depth-model", folder, "--models-dir",
                    models_dir, "--max-size", str(args.max_size), "--offline", "-q"]
            walls, peaks = {"torch": [], "onnx": []}, {"torch": [], "onnx": []}
            for _ in range(args.runs):
                for backend in ("torch", "onnx"):
                    wall, peak, _ = fresh_run(base + ["--depth-backend", backend])
                    walls[backend].append(wall)
                    peaks[backend].append(peak)
            t, o = statistics.median(walls["torch"]), statistics.median(walls["onnx"])
            print(f"{label:26} {t:8.2f} {o:8.2f} {t / o:10.2f} "
                  f"{max(peaks['torch']):>5.0f}/{max(peaks['onnx']):<6.0f}", flush=True)
            if label.startswith("Depth Anything"):
                for backend in ("torch", "onnx"):
                    imports[backend] = import_table(
                        fresh_run(base + ["--depth-backend", backend], importtime=True)[2])
        for backend, (rows, total) in imports.items():
            print(f"\nImports of a fresh run, --depth-backend {backend} (Depth Anything V2 "
                  f"Small; sum of top-level cumulative: {total:.2f} s):")
            print(f"  {'cumulative s':>12} {'self s':>8}  module")
            for cum, own, name in rows:
                print(f"  {cum:12.3f} {own:8.3f}  {name}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
