"""The methods' processes of ``benchmarks/speed/run.py`` (see its docstring): the prototype's
and ours, each run in a fresh ``python -m benchmarks.speed --_worker MODE CONFIG`` that prints
its timings as one ``MARK`` line of JSON.  Modes: ``baseline``, ``ours``, ``warm``,
``poisson``, ``default``, ``depthmap``, ``warm-default``, and ``cold-*`` (one run in a
fresh process, for ``cold.py``)."""

import json
import os
import resource
import shutil
import sys
import time

MARK = "@@BENCH@@"


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def hwm_mb():
    """This process's peak resident memory since it started (Linux VmHWM), in MB."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) \
                / 1024.0
    except (OSError, StopIteration, ValueError):
        return float("nan")


def repeats(cfg):
    """Timed runs after the warm-up; none in a fresh-process ("cold-") worker."""
    return 0 if cfg["mode"].startswith("cold-") else cfg["repeat"]


def quiet_libraries():
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


# --------------------------------------------------------------------------- workers

def worker_baseline(cfg):
    import numpy as np

    t0 = time.perf_counter()
    import open3d  # noqa: F401  (the prototype imports these at the top)
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from . import prototype_baseline as proto

    imports = time.perf_counter() - t0
    override = np.load(cfg["baseline_depth"])
    runs, info = [], None
    for i in range(repeats(cfg) + 1):
        t_run = time.perf_counter()
        t, info = proto.run_prototype(cfg["image"], cfg["model_dir"],
                                      os.path.join(cfg["tmp"], "baseline.obj"),
                                      cfg["max_height"], depth_override=override)
        t["total"] = time.perf_counter() - t_run
        runs.append(t)
    info["network_input"] = info["working_size"]
    return {"imports": imports, "warmup": runs[0], "runs": runs[1:], "info": info,
            "peak_rss_mb": peak_rss_mb(), "hwm_mb": hwm_mb()}


class _FuncTimer:
    """Wraps module functions to sum their time per run (the breakdown run only)."""

    def __init__(self):
        self.t = {}

    def wrap(self, module, name, label=None):
        fn = getattr(module, name)
        label = label or f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

        def wrapped(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.t[label] = self.t.get(label, 0.0) + time.perf_counter() - t0

        setattr(module, name, wrapped)


def worker_ours(cfg):
    import numpy as np

    t0 = time.perf_counter()
    from blender_img2mesh.pipeline.depth import estimate as depth_mod
    from blender_img2mesh.pipeline.cli import parse_args
    from blender_img2mesh.pipeline.progress import Reporter
    from blender_img2mesh.pipeline.run import run

    imports = time.perf_counter() - t0
    plausible = np.load(cfg["ours_depth"])
    fwd = {"t": 0.0, "pre": 0.0, "post": 0.0}
    from blender_img2mesh.pipeline.depth.onnx_run import OnnxDepthEstimator

    original_predict = {"torch": depth_mod.DepthEstimator.predict,
                        "onnx": OnnxDepthEstimator.predict}

    def predict(self, rgb):
        if self.backend == "onnx" and not getattr(self, "_bench_hooked", False):
            run_network = self.forward

            def forward(pixel_values):
                fwd["shape"] = list(pixel_values.shape[-2:])[::-1]
                start = time.perf_counter()
                try:
                    return run_network(pixel_values)
                finally:
                    fwd["t"] += time.perf_counter() - start

            self.forward = forward
            self._bench_hooked = True
        elif not getattr(self, "_bench_hooked", False):
            def pre(module, args, kwargs):
                x = kwargs.get("pixel_values", args[0] if args else None)
                fwd["shape"] = list(x.shape[-2:])[::-1]
                fwd["start"] = time.perf_counter()

            def post(module, args, output):
                fwd["t"] += time.perf_counter() - fwd["start"]

            self.model.register_forward_pre_hook(pre, with_kwargs=True)
            self.model.register_forward_hook(post)
            self._bench_hooked = True
        _raw, fov = original_predict[self.backend](self, rgb)  # the real thing, discarded
        if plausible.shape != rgb.shape[:2]:
            raise RuntimeError(f"plausible depth {plausible.shape} != working image "
                               f"{rgb.shape[:2]}")
        if self.kind == "relative":  # the same geometry, given as disparity
            return 1.0 / plausible, fov
        return plausible.copy(), fov

    # the models folder is the temporary one (u2netp linked in): the depth models' ONNX
    # files are made beside them there, in the warm-up run of the first spawn
    argv = [cfg["image"], "-o", os.path.join(cfg["tmp"], "ours.ply"), "--max-size",
            str(cfg["max_size"]), "--offline", "-q", "--models-dir", cfg["tmp"],
            "--depth-backend", cfg["depth_backend"]]
    kind = cfg["mode"].replace("cold-", "")  # cold-ours, cold-default: one fresh run
    if kind == "depthmap":
        argv += ["--depth-map", cfg["ours_depth"]]
    else:
        argv += ["--depth-model", cfg["default_model_dir"] if kind.endswith("default")
                 else cfg["model_dir"]]
        depth_mod.DepthEstimator.predict = predict
        OnnxDepthEstimator.predict = predict
    if cfg["mode"] == "poisson":
        argv += ["--mesher", "poisson"]

    # "warm": one model cache for all runs, as the warm worker keeps its models loaded;
    # each run on a copy of the photo under a new name, as a new photo (the worker keeps
    # the last photo's mask and depth for another job on the same file)
    cache = {} if kind.startswith("warm") else None

    def one(i):
        fwd["t"] = 0.0
        r = Reporter()
        if cache is not None:
            argv[0] = os.path.join(cfg["tmp"], f"warm-{i}{os.path.splitext(cfg['image'])[1]}")
            shutil.copyfile(cfg["image"], argv[0])
        t_run = time.perf_counter()
        res = run(parse_args(argv), r, cache)
        if res["reused"]:
            raise RuntimeError(f"a benchmark run reused {res['reused']}")
        t = dict(r.timings)
        t["total"] = time.perf_counter() - t_run
        t["forward"] = fwd["t"]
        t["vertices"], t["faces"] = res["vertices"], res["faces"]
        return t, res

    runs, res = [], None
    for i in range(repeats(cfg) + 1):
        t, res = one(i)
        runs.append(t)
    out = {"imports": imports, "warmup": runs[0], "runs": runs[1:],
           "peak_rss_mb": peak_rss_mb(), "hwm_mb": hwm_mb(),
           "info": {k: res[k] for k in ("vertices", "faces", "points", "working_size",
                                          "depth_model", "mesher", "poisson_depth",
                                          "back")}}
    out["info"]["torch_threads"] = sys.modules["torch"].get_num_threads() \
        if "torch" in sys.modules and cfg["mode"] != "depthmap" else None
    out["info"]["depth_backend"] = res.get("depth_backend")
    out["info"]["network_input"] = fwd.get("shape")
    if cfg["mode"] != "ours":
        return out

    # one more run, not counted, with timers around the inner functions
    from blender_img2mesh.pipeline.geometry import camera, reconstruct
    from blender_img2mesh.pipeline.output import export, mesh_files as meshfiles
    from blender_img2mesh.pipeline.source import image_io
    from blender_img2mesh.pipeline.geometry import outline, surface
    from blender_img2mesh.pipeline.mask import segment
    from blender_img2mesh.pipeline.output import texture

    ft = _FuncTimer()
    for mod, names in ((image_io, ("load_photo", "resize_rgb")),
                       (segment, ("rembg_session", "remove_background", "clean_mask")),
                       (camera, ("extend_outside", "backproject", "grid_normals",
                                 "depth_edges", "depth_outliers")),
                       (surface, ("grid_mesh", "compact", "add_back", "poisson",
                                  "trim_to_view", "keep_vertices", "drop_small_parts",
                                  "decimate", "is_watertight")),
                       (reconstruct, ("_large_parts",)), (outline, ("smooth_outline",)),
                       (texture, ("build", "unseen_faces", "split_seam")),
                       (export, ("paint", "orient", "write_json")),
                       (meshfiles, ("encode_image", "write_ply", "write_obj"))):
        for name in names:
            ft.wrap(mod, name)
    ft.wrap(depth_mod, "DepthEstimator", "depth.DepthEstimator(load)")
    ft.wrap(depth_mod, "load_estimator", "depth.load_estimator")
    t, _ = one(-1)
    out["breakdown"] = dict(ft.t, **{"GLPN forward (hooks)": t["forward"]})
    out["breakdown_total"] = t["total"]
    return out


def worker_main(mode, cfg_path):
    quiet_libraries()
    with open(cfg_path) as fh:
        cfg = json.load(fh)
    cfg["mode"] = mode
    out = worker_baseline(cfg) if mode.endswith("baseline") else worker_ours(cfg)
    sys.stdout.write(MARK + json.dumps(out) + "\n")
    sys.stdout.flush()
