"""Benchmark: our pipeline against the original prototype, stage by stage, in one run.

    .venv/bin/python -m benchmarks.speed [--image PATH] [--repeat N] [--quick]
    .venv/bin/python -m benchmarks.speed accuracy [...]   # = python -m benchmarks.accuracy

(from the repository's root).

A benchmark, not a test: it prints a table of per-stage times and ratios measured in this
run (nothing is compared to stored numbers).

Network.  No weights can be downloaded here, so both methods run the *full-size* GLPN-NYU
architecture (the MiT-b4 encoder of vinvino02/glpn-nyu and glpn-kitti: hidden sizes 64,
128, 320, 512, depths 3, 8, 27, 3, ~61 M parameters; note that a bare ``GLPNConfig()`` is
the small b0 variant, 3.7 M) with random weights, saved with ``save_pretrained`` and
``GLPNImageProcessor()`` to a temporary folder.  Our pipeline loads it through its real path
(``--depth-model <folder>``), the prototype with ``from_pretrained`` as it did.  Both run
the network at the prototype's working size: height <= 480 px, rounded down to multiples
of 32 by the processor; ours gets ``--max-size`` = that grid's longer side.

Depth substitution.  A random network outputs noise, and the geometry stages' cost depends
on the depth values, so the forward pass is *run and timed* in both methods but the
geometry of *both* is fed the same plausible depth of the same photo: the u2netp mask of
the photo inflated by our silhouette inflation (object 1.2 m .. ~1.7 m away) in front of
a tilted background plane (3.0 m at the top of the image, 2.0 m at the bottom) -- metres,
like NYU.

* prototype: that depth (resampled to the network's output grid if it differs) replaces
  the network output after the forward pass, before the x1000 / 8-bit step.
* ours: one process runs the real pipeline with ``--depth-model <folder>``, where
  ``DepthEstimator.predict`` is wrapped: the real ``predict`` runs in full (processor,
  forward, post-processing, all timed in the ``depth`` stage) and its result is then
  replaced by the plausible depth.  So every stage time of ours comes from one real run
  (``model`` = rembg session + GLPN load, ``depth`` = our real GLPN code path).  The
  forward time alone is taken with torch forward hooks on the model.  A cross-check run
  with ``--depth-map depth.npy`` (the documented way to give depth) must give the same
  mesh; its geometry stage times are printed too.  A third run, ``--mesher poisson``,
  times the Poisson path (what closed backs use) on the same input; a fourth runs our
  default depth model's architecture (Depth Anything V2 Small, random weights, its own
  518 px preprocessing) in place of GLPN, for what a user of the defaults waits.

Timing.  Each method runs in a fresh subprocess (so peak memory, the RSS high-water mark,
is per method).  In each: one warm-up run (excluded; it pays Python imports, reported as
"cold"), then ``--repeat`` runs, median per stage.  Every run loads its models again (no
model cache), like a fresh command-line run once Python's imports are done; a "warm" run
of ours keeps one model cache across its runs, as the warm worker does (models loaded
once, in the warm-up).  Ours additionally runs
once more with timers around its inner functions (not counted) to show where its time
goes.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from .workers import MARK, quiet_libraries, worker_main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu_ticks():
    """(busy, steal) jiffies of all CPUs from /proc/stat (Linux), or None."""
    try:
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(v[:3]) + sum(v[5:7]), v[7] if len(v) > 7 else 0


def spawn(mode, cfg_path, importtime=False):
    """Run one method in a fresh process; its report, with ``wall``: seconds from the
    process's start to its exit (``stderr`` too with ``importtime``)."""
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []),
           "-m", "benchmarks.speed", "--_worker", mode, cfg_path]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK):]), wall=wall,
                        **({"stderr": proc.stderr} if importtime else {}))
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
    raise SystemExit(f"bench: the {mode} run failed (exit {proc.returncode})")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--_worker"]:  # a method's process: nothing else imported first
        return worker_main(*argv[1:3])
    if argv[:1] == ["accuracy"]:  # geometric accuracy on ground-truth renders
        from ..accuracy import run as accuracy

        return accuracy.main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    import skimage.data

    default_image = os.path.join(os.path.dirname(skimage.data.__file__), "coffee.png")
    p.add_argument("--image", default=default_image, help="photo (default: skimage coffee.png)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per method (median)")
    p.add_argument("--quick", action="store_true",
                   help="smoke use: 192 px high working image, 1 timed run, no cross-check")
    p.add_argument("--max-height", type=int, default=None,
                   help="the prototype's height cap (default 480; 192 with --quick)")
    p.add_argument("--no-crosscheck", action="store_true",
                   help="skip the --depth-map cross-check run")
    p.add_argument("--no-default-model", action="store_true",
                   help="skip the run with our default model's architecture")
    p.add_argument("--depth-backend", choices=("auto", "onnx", "torch"), default="auto",
                   help="what runs our depth model (default: %(default)s, as the command "
                   "line; the ONNX export happens in a warm-up run, not timed)")
    p.add_argument("--runs", type=int, default=3,
                   help="whole fresh processes per method for the cold-start section "
                   "(median; 0: skip that section)")
    args = p.parse_args(argv)
    quiet_libraries()
    import numpy as np

    from . import prototype_baseline as proto
    from .inputs import make_default_network, make_network, plausible_depth, resample
    from .report import report
    from blender_img2mesh.pipeline.source import image_io
    from blender_img2mesh.pipeline import models

    if args.quick:
        args.repeat = 1 if args.repeat == 3 else args.repeat
        args.no_crosscheck = args.no_default_model = True
        args.runs = 1 if args.runs == 3 else args.runs
    max_height = args.max_height or (192 if args.quick else proto.MAX_HEIGHT)
    image = os.path.abspath(args.image)
    img = proto.working_image(image, max_height)
    grid_w, grid_h = proto.network_grid(*img.size)
    max_size = max(grid_w, grid_h)

    with tempfile.TemporaryDirectory(prefix="img2mesh-bench-") as tmp:
        model_dir = os.path.join(tmp, "glpn-random")
        t0 = time.perf_counter()
        params = make_network(model_dir)
        print(f"bench: random GLPN-NYU architecture, {params / 1e6:.1f} M parameters, saved "
              f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        default_model_dir = os.path.join(tmp, "depth-anything-v2-small-random")
        if not args.no_default_model:
            make_default_network(default_model_dir)
        rgb_full, _ = image_io.load_photo(image)
        rgb = image_io.resize_rgb(rgb_full, max_size)
        z, mask = plausible_depth(rgb, models.default_models_dir())
        ours_depth = os.path.join(tmp, "depth_ours.npy")
        base_depth = os.path.join(tmp, "depth_prototype.npy")
        np.save(ours_depth, z)
        np.save(base_depth, resample(z, (grid_h, grid_w)))
        cfg = {"image": image, "model_dir": model_dir, "tmp": tmp, "repeat": args.repeat,
               "default_model_dir": default_model_dir,
               "max_height": max_height, "max_size": max_size, "ours_depth": ours_depth,
               "baseline_depth": base_depth, "loadavg": os.getloadavg()[0],
               "depth_backend": args.depth_backend}
        u2netp = os.path.join(models.default_models_dir(), "u2netp.onnx")
        if os.path.isfile(u2netp):
            os.symlink(u2netp, os.path.join(tmp, "u2netp.onnx"))
        cfg_path = os.path.join(tmp, "bench.json")
        with open(cfg_path, "w") as fh:
            json.dump(cfg, fh)
        ticks0, wall0 = cpu_ticks(), time.perf_counter()
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        print("bench: running the prototype ...", file=sys.stderr)
        base = spawn("baseline", cfg_path)
        print("bench: running ours ...", file=sys.stderr)
        ours = spawn("ours", cfg_path)
        print("bench: running ours, warm (models kept loaded) ...", file=sys.stderr)
        warm = spawn("warm", cfg_path)
        print("bench: running ours with --mesher poisson ...", file=sys.stderr)
        poisson = spawn("poisson", cfg_path)
        default = None
        if not args.no_default_model:
            print("bench: running ours with the default model's architecture ...",
                  file=sys.stderr)
            default = spawn("default", cfg_path)
        dmap = None
        if not args.no_crosscheck:
            print("bench: running ours with --depth-map (cross-check) ...", file=sys.stderr)
            dmap = spawn("depthmap", cfg_path)
        ticks1 = cpu_ticks()
        if ticks0 and ticks1:
            kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            busy = (ticks1[0] - ticks0[0]) / os.sysconf("SC_CLK_TCK")
            ours_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
            wall = time.perf_counter() - wall0
            cfg["others"] = 100.0 * max(0.0, busy - ours_cpu) / (wall * (os.cpu_count() or 1))
        report(cfg, params, base, ours, dmap, poisson, default, warm)
        if args.runs > 0:
            from . import cold

            cold.run_and_report(cfg, cfg_path, args.runs, spawn,
                                with_default=not args.no_default_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
