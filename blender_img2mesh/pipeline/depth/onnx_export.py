"""Exporting a transformers depth model to ONNX, once (torch's TorchScript-based
``torch.onnx.export``), and proving the file before it is kept.

The network is traced on a landscape picture with dynamic height and width, then run by
onnxruntime on a portrait and a square picture and compared with PyTorch on the same
input: a model whose trace kept a fixed size somewhere, or whose output differs, is not
kept (``<file>.failed`` says why, so no new attempt is made on every run) -- unless the
export failed for want of disk space or permission, which says nothing about the model:
that is not remembered, the next run tries again.

The only fix applied while tracing: in the model's own module, ``int()`` leaves a traced
size as it is (Depth Anything's head computes its output size with ``int(...)``, which
would freeze the traced picture's size into the graph).
"""

import builtins
import contextlib
import errno
import os
import sys
import warnings

import numpy as np

from . import onnx_cache
from . import onnx_run as onnx_depth
from . import prep as depth_prep

#: largest allowed difference between ONNX Runtime's and PyTorch's raw network output,
#: relative to the largest absolute value of PyTorch's
TOLERANCE = 1e-3
#: errors of the disk, not of the model: an export failing with one is tried again
_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)
_DISK_WORDS = ("No space left", "Disk quota", "Read-only file system", "Permission denied")


def _disk_trouble(exc):
    """Whether ``exc`` says the disk, not the model, made the export fail."""
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
        return True
    return any(word in str(exc) for word in _DISK_WORDS)


#: (height, width) of the pictures the export is traced on and checked with
TRACE_SIZE = (240, 320)
CHECK_SIZES = ((320, 240), (256, 256))


def _keep_traced(value):
    import torch

    return value if isinstance(value, torch.Tensor) else builtins.int(value)


@contextlib.contextmanager
def _traceable_sizes(model):
    module = sys.modules[type(model).__module__]
    had = "int" in vars(module)
    saved = vars(module).get("int")
    module.int = _keep_traced
    try:
        yield
    finally:
        if had:
            module.int = saved
        else:
            del module.int


def _wrapped(model):
    import torch

    class DepthOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).predicted_depth

    return DepthOnly(model).eval()


def _torch_forward(model, x):
    import torch

    with torch.inference_mode():
        return model(pixel_values=torch.from_numpy(x)).predicted_depth.float().numpy()


def _export_to(model, x, tmp):
    import torch

    with warnings.catch_warnings(), _traceable_sizes(model), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _wrapped(model), (torch.from_numpy(x),), tmp, dynamo=False,
            opset_version=onnx_depth.OPSET, input_names=["pixel_values"],
            output_names=["predicted_depth"], do_constant_folding=True,
            dynamic_axes={"pixel_values": {2: "height", 3: "width"},
                          "predicted_depth": {1: "out_height", 2: "out_width"}})


def compare(session, model, proc, sizes):
    """None when ONNX Runtime's output equals PyTorch's on check pictures of ``sizes``,
    else what differs."""
    for h, w in sizes:
        x = depth_prep.preprocess(onnx_depth.check_image(h, w), proc)
        want = _torch_forward(model, x)
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        if got.shape != want.shape:
            return (f"on a {w}x{h} picture the ONNX output is {got.shape[-1]}x"
                    f"{got.shape[-2]}, PyTorch's {want.shape[-1]}x{want.shape[-2]}")
        scale = max(float(np.abs(want).max()), 1e-12)
        err = float(np.abs(got - want).max()) / scale
        if not np.isfinite(err) or err > TOLERANCE:
            return f"on a {w}x{h} picture the ONNX output differs by {err:.2g} (relative)"
    return None


def write_checked(model, proc, path):
    """Export the transformers depth ``model`` (on the CPU, eval mode; ``proc``: its
    processing from :func:`prep.read_config`) to ``path``, proven against PyTorch on
    the check pictures first.  Returns None, or why it could not be done (then nothing
    is written at ``path``).  Also used to build ONNX repositories for tests and
    benchmarks."""
    return _write_checked(model, proc, path)[0]


def _write_checked(model, proc, path):
    """:func:`write_checked`, and whether a failure was the disk's (not the model's)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = onnx_cache.tmp_name(path)
    reason, disk = None, False
    try:
        x = depth_prep.preprocess(onnx_depth.check_image(*TRACE_SIZE), proc)
        _export_to(model, x, tmp)
        sess = onnx_depth.session(tmp, ["CPUExecutionProvider"])
        reason = compare(sess, model, proc, (TRACE_SIZE, *CHECK_SIZES))
        del sess
        if reason is None:
            os.replace(tmp, path)
    except Exception as exc:  # any exporter or runtime failure: keep PyTorch
        disk = _disk_trouble(exc)
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}" \
            if str(exc).strip() else type(exc).__name__
    if reason is not None:
        with contextlib.suppress(OSError):
            os.remove(tmp)
    return reason, disk


def export(folder, path, estimator):
    """Export the model of ``estimator`` (a :class:`depth.DepthEstimator` on the CPU,
    loaded from ``folder``) to ``path``; returns None, or why it could not be done (then
    ``path + ".failed"`` holds the reason)."""
    _, _, proc = depth_prep.read_config(folder)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx_cache.record_source(path, folder)
    reason, disk = _write_checked(estimator.model, proc, path)
    if reason is None:
        onnx_cache.record_export(path)
        onnx_cache.write_optimized(path)  # also removes the files of older versions
        return None
    if disk:  # not the model's fault: the next run tries again
        return f"{reason}; not remembered, the next run tries again"
    marker = onnx_cache.tmp_name(path + onnx_depth.FAILED)
    with contextlib.suppress(OSError):
        with open(marker, "w", encoding="utf-8") as fh:
            fh.write(reason + "\n")
        os.replace(marker, path + onnx_depth.FAILED)
    with contextlib.suppress(OSError):
        os.remove(marker)
    onnx_cache.prune(os.path.dirname(path), keep=path)
    return reason
