"""The depth network on ONNX Runtime: no torch, no transformers in the process.

A transformers depth model folder is exported once (:mod:`.onnx_export`, with torch) to an
``.onnx`` file in the models folder; from then on :class:`OnnxDepthEstimator` runs it with
onnxruntime, with the numpy pre- and post-processing of :mod:`.depth_prep`.

Where the file goes: beside the model when the model's folder is in the models folder
(``<models>/<model>.depth-<key>.onnx``), else (the Hugging Face cache, a folder given by
path) in ``<models>/onnx/<model>-<hash of its path>.depth-<key>.onnx``.  ``key`` hashes
what makes the network: config.json's bytes, each weights file's name, size and
modification time, the opset, the exporter (torch's version) and this module's export
format version, so a changed model or exporter makes a new file.  A model that could not
be exported leaves ``<same name>.failed`` (its reason inside): not tried again.  The
optimised form sessions load, and the clean-up of old versions: :mod:`.onnx_cache`.
"""

import contextlib
import glob
import hashlib
import os

import numpy as np

from . import prep as depth_prep

OPSET = 17
#: bump when what is exported changes (inputs, outputs, export fixes)
FORMAT = 1
FAILED = ".failed"

#: --device -> onnxruntime execution providers to try, best first (CPU is always added);
#: CoreML only when asked for (--device mps): it runs parts of a graph with dynamic sizes
PROVIDERS = {
    "auto": ("CUDAExecutionProvider", "DmlExecutionProvider"),
    "cuda": ("CUDAExecutionProvider", "DmlExecutionProvider"),
    "mps": ("CoreMLExecutionProvider",),
    "cpu": (),
}
LABELS = {"CUDAExecutionProvider": "cuda", "DmlExecutionProvider": "directml",
          "CoreMLExecutionProvider": "coreml", "CPUExecutionProvider": "cpu"}


def exporter_version():
    """torch's version, read without importing torch."""
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return "none"


def model_key(folder):
    """16 hex digits naming the exported network of ``folder`` (see the module doc)."""
    h = hashlib.sha256()
    with open(os.path.join(folder, "config.json"), "rb") as fh:
        h.update(fh.read())
    for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        st = os.stat(path)
        h.update(f"{os.path.basename(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(f"opset={OPSET};torch={exporter_version()};format={FORMAT}".encode())
    return h.hexdigest()[:16]


def onnx_path(folder, models_dir):
    """Where the ONNX file of the model in ``folder`` is (or will be) kept."""
    folder = os.path.abspath(folder)
    name, key = os.path.basename(folder.rstrip(os.sep)), model_key(folder)
    if models_dir and os.path.dirname(folder) == os.path.abspath(models_dir):
        return os.path.join(models_dir, f"{name}.depth-{key}.onnx")
    where = hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:8]
    base = models_dir or os.path.dirname(folder)
    return os.path.join(base, "onnx", f"{name}-{where}.depth-{key}.onnx")


def failure(path):
    """Why the export to ``path`` failed before, or None (not tried, or it worked)."""
    try:
        with open(path + FAILED, encoding="utf-8") as fh:
            return fh.read().strip() or "unknown reason"
    except OSError:
        return None


def providers(device):
    """(providers to give onnxruntime, what was tried) for ``--device``; providers is
    None when the device asked for is not in this onnxruntime."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = PROVIDERS.get(device, ())
    found = [p for p in wanted if p in available]
    tried = ", ".join(LABELS[p] for p in wanted) or "cpu"
    if device in ("cuda", "mps") and not found:
        return None, tried
    return found + ["CPUExecutionProvider"], tried


def nvidia_gpu_for_torch_only(provider_list):
    """True when this Linux machine has an NVIDIA GPU that onnxruntime will not use (a
    CPU-only onnxruntime): PyTorch's CUDA is then the faster choice for --device auto."""
    gpus = "/proc/driver/nvidia/gpus"
    return "CUDAExecutionProvider" not in provider_list and os.path.isdir(gpus) and \
        bool(os.listdir(gpus))


def session(path, provider_list, optimized=False, spin=True):
    """An onnxruntime session of the exported network ``path`` on every core.
    ``optimized``: on the CPU provider, load its saved optimised form
    (:mod:`.onnx_cache`), made now if missing.  ``spin=False``: its threads sleep between
    operators instead of spin-waiting (onnxruntime's default, the fastest for a network
    alone on the cores), leaving the cores to work that runs beside it."""
    import onnxruntime as ort

    from . import onnx_cache

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, os.cpu_count() or 1)
    options.log_severity_level = 3
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if optimized and list(provider_list) == ["CPUExecutionProvider"]:
        ready = onnx_cache.optimized_path(path)
        if os.path.isfile(ready) or onnx_cache.write_optimized(path):
            try:
                return ort.InferenceSession(ready, sess_options=options,
                                            providers=provider_list)
            except Exception:  # damaged (a full disk, a crash): the network itself
                with contextlib.suppress(OSError):
                    os.remove(ready)
    return ort.InferenceSession(path, sess_options=options, providers=provider_list)


class OnnxDepthEstimator:
    """Same interface as :class:`depth.DepthEstimator`: ``model_type``, ``kind``,
    ``device``, ``backend`` and ``predict(rgb)``."""

    backend = "onnx"

    def __init__(self, folder, path, provider_list, spin=True, repo=False, optimized=True):
        """``path``: a network exported here, or (``repo``) one of a ready ONNX
        repository; ``optimized``: load (and keep) its optimised graph beside it."""
        self.model_type, self.kind, self.proc = depth_prep.read_config(folder)
        self.path = path
        if not repo:
            from . import onnx_cache

            onnx_cache.record_source(path, folder)  # files made before it was recorded
        self.session = session(path, provider_list, optimized=optimized, spin=spin)
        used = self.session.get_providers()[0]
        self.device = LABELS.get(used, used)
        first = self.session.get_inputs()[0]
        self.input = first.name
        # a float16 network may take float16 pixels (most keep float32 inputs)
        self.dtype = np.float16 if first.type == "tensor(float16)" else np.float32
        self.threads = max(1, os.cpu_count() or 1)

    def forward(self, pixel_values):
        out = self.session.run(None, {self.input: pixel_values.astype(self.dtype, copy=False)})
        return out[0].astype(np.float32, copy=False)

    def predict(self, rgb):
        """Raw depth at the image's size (float32 HxW) and the model's fov (None: none
        of the exported architectures estimates one)."""
        h, w = rgb.shape[:2]
        out = self.forward(depth_prep.preprocess(rgb, self.proc))
        return depth_prep.postprocess(out, h, w, self.proc), None


def check_image(h, w):
    """A deterministic test picture (smooth colours, edges and texture), h x w x 3."""
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    u, v = xx / max(w - 1, 1), yy / max(h - 1, 1)
    disc = ((u - 0.45) ** 2 + (v - 0.55) ** 2) < 0.08
    r = 255 * u
    g = 255 * v * (1 - 0.5 * disc)
    b = 127 + 127 * np.sin(12 * u + 7 * v) * np.cos(9 * v)
    img = np.stack([r, g, b], axis=-1)
    img[disc] = 0.6 * img[disc] + 80
    return np.clip(img, 0, 255).astype(np.uint8)
