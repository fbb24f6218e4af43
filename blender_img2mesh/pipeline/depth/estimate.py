"""The depth estimator: a learned model run on ONNX Runtime (exported once) or PyTorch
(transformers); :mod:`.convert` turns its output into metric depth.

Two kinds of model output, handled explicitly:

* ``metric`` (GLPN, ZoeDepth, Depth Pro, Depth Anything *metric*): depth in metres.
* ``relative`` (Depth Anything V2, DPT/MiDaS): affine-invariant inverse depth
  (disparity).  It has no scale and no shift, so we choose them: the object's nearest
  point is put at ``z_near`` and its farthest at ``z_near + thickness * size``, where
  ``size`` is the object's larger extent across the image (in the same units).  Inverse
  depth is linear between those two, which is exactly what affine invariance allows.

(see :mod:`.convert`).
"""

import os

import numpy as np

from ..errors import Img2MeshError
from . import weights

METRIC_TYPES = ("glpn", "zoedepth", "depth_pro")


def select_device(name="auto"):
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise Img2MeshError("--device cuda was asked for but torch sees no CUDA GPU",
                            hint="use --device auto or cpu", kind="input")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and
                              torch.backends.mps.is_available()):
        raise Img2MeshError("--device mps was asked for but this torch has no MPS support",
                            hint="use --device auto or cpu", kind="input")
    return name


class DepthEstimator:
    """A transformers depth model and its image processor, loaded once (PyTorch)."""

    backend = "torch"

    def __init__(self, folder, device="auto"):
        import torch
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        self.device = select_device(device)
        self.folder = folder
        try:
            self.processor = AutoImageProcessor.from_pretrained(folder)
            self.model = weights.load_exact(folder, AutoModelForDepthEstimation)
            self.loader = "exact" if self.model is not None else "from_pretrained"
            if self.model is None:
                self.model = AutoModelForDepthEstimation.from_pretrained(
                    folder, use_safetensors=True, trust_remote_code=False)
        except Exception as exc:
            raise Img2MeshError(f"cannot load depth model from {folder} "
                                f"({type(exc).__name__}: {exc})", file=folder,
                                hint="the folder must hold config.json, "
                                "preprocessor_config.json and model.safetensors",
                                kind="model") from None
        self.model.to(self.device).eval()
        config = self.model.config
        self.model_type = config.model_type
        if self.model_type == "depth_anything":
            self.kind = getattr(config, "depth_estimation_type", "relative") or "relative"
        else:
            self.kind = "metric" if self.model_type in METRIC_TYPES else "relative"

    def predict(self, rgb):
        """Raw model output resized to the image (float32 HxW) and the model's fov or None."""
        import torch

        h, w = rgb.shape[:2]
        inputs = self.processor(images=rgb, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        if self.model_type == "zoedepth":  # its own post-processing needs torchvision
            from . import prep as depth_prep

            raw = outputs.predicted_depth.detach().float().cpu().numpy()
            _, _, proc = depth_prep.read_config(self.folder)
            return depth_prep.postprocess(raw, h, w, proc), None
        post = self.processor.post_process_depth_estimation(outputs, target_sizes=[(h, w)])[0]
        depth = post["predicted_depth"].detach().float().cpu().numpy()
        fov = post.get("field_of_view")
        if fov is not None:
            fov = float(torch.as_tensor(fov).reshape(-1)[0])
            if not 1.0 <= fov <= 170.0:  # NaN or absurd: use --fov or the default instead
                fov = None
        return depth.astype(np.float32), fov


def load_estimator(folder, device="auto", backend="auto", models_dir=None, reporter=None,
                   spin=True):
    """The depth model of ``folder`` on ONNX Runtime (exported once, see
    :mod:`.onnx_depth`; ``spin`` as :func:`onnx_depth.session`'s) or on PyTorch:
    ``backend`` auto (ONNX Runtime when the model can be exported, else PyTorch with a
    warning), onnx (else an error) or torch.  Each step that takes time is a ``build``
    phase of the ``model`` stage on ``reporter``."""
    name = os.path.basename(os.path.normpath(folder))

    def phase(fraction, message):
        if reporter is not None:
            reporter.update(fraction, message, phase="build")

    def torch_model():
        phase(0.55, f"Building the network with PyTorch ({name})")
        return DepthEstimator(folder, device)

    if backend == "torch":
        return torch_model()
    from . import onnx_run as onnx_depth
    from . import prep as depth_prep

    def give_up(why, hint="use --depth-backend auto or torch"):
        if backend == "onnx":
            raise Img2MeshError(f"--depth-backend onnx: {why}", file=folder, hint=hint,
                                kind="model")
        return torch_model()

    try:
        depth_prep.read_config(folder)
    except depth_prep.Unsupported as why:  # e.g. Depth Pro: PyTorch as before, silently
        return give_up(f"ONNX Runtime does not run this model yet ({why})")
    provider_list, tried = onnx_depth.providers(device)
    if provider_list is None:  # PyTorch may have the device; it says so if not
        if backend == "auto" and reporter is not None:
            reporter.warn(f"onnxruntime has no provider for --device {device} (tried "
                          f"{tried}): the depth model runs on PyTorch")
        return give_up(f"onnxruntime has no provider for --device {device} (tried {tried})",
                       hint="install the onnxruntime build for that device, or use "
                       "--device cpu")
    if backend == "auto" and device == "auto" and \
            onnx_depth.nvidia_gpu_for_torch_only(provider_list):
        return torch_model()
    path = onnx_depth.onnx_path(folder, models_dir)
    from . import onnx_cache

    damaged = None  # why the exported network is not usable: removed, exported again once
    if os.path.isfile(path) and onnx_depth.failure(path) is None:
        damaged = onnx_cache.damage(path, full=not os.path.isfile(
            onnx_cache.optimized_path(path)))
    for attempt in (1, 2):
        if damaged:
            onnx_cache.discard(path)
            if reporter is not None:
                reporter.warn(f"the exported depth network {os.path.basename(path)} was "
                              f"damaged ({damaged}): removed and exported again")
        reason, est = _exported(folder, path, phase)
        if reason is not None:
            if backend == "onnx":
                return give_up(f"the model could not be exported to ONNX ({reason})")
            if reporter is not None:
                again = f" (delete {path + onnx_depth.FAILED} to try again)" \
                    if os.path.isfile(path + onnx_depth.FAILED) else ""
                reporter.warn(f"depth model not prepared for ONNX Runtime ({reason}); used "
                              f"PyTorch{again}")
            return est if est is not None and est.device == select_device(device) else \
                torch_model()
        phase(0.8, f"Creating the ONNX Runtime session ({name})")
        try:
            return onnx_depth.OnnxDepthEstimator(folder, path, provider_list, spin)
        except Exception as exc:  # noqa: BLE001 -- a damaged file: onnxruntime's own errors
            why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else \
                type(exc).__name__
            if attempt == 2 or damaged:
                return give_up(f"the exported network cannot be loaded ({why})")
            damaged = f"onnxruntime cannot load it: {why}"
    return None  # (not reached)


def _exported(folder, path, phase):
    """``(None, None)`` when the exported network ``path`` is there (made now if
    missing), else ``(why not, the PyTorch model loaded for the export or None)``."""
    from . import onnx_run as onnx_depth

    reason = onnx_depth.failure(path)
    if reason is not None or os.path.isfile(path):
        return reason, None
    if not _writable(os.path.dirname(path)):
        return f"cannot write to {os.path.dirname(path)}", None
    phase(0.55, "Preparing the depth model for this machine (once)")
    from . import onnx_export

    est = DepthEstimator(folder, "cpu")
    return onnx_export.export(folder, path, est), est


def _writable(folder):
    """Whether ``folder`` (or its nearest existing parent) can be written."""
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder.rstrip(os.sep)) if folder != os.sep else ""
    return bool(folder) and os.access(folder, os.W_OK)
