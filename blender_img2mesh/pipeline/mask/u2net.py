"""rembg's U²-Net models (u2netp, our default, and u2net, u2net_human_seg, silueta) on
onnxruntime, without importing rembg.

Importing rembg imports what its other features need -- pymatting and numba (alpha
matting), scikit-image, pooch -- 1.2-2.2 s of every fresh run here, more than the mask
itself.  For these four models rembg's session is a thin layer over onnxruntime
(``rembg.sessions.base.BaseSession.normalize`` and ``U2netpSession.predict``), which
:class:`U2NetSession` repeats step for step; the same ``.onnx`` files, the same masks
(``tests/test_masks.py`` compares them with ``rembg.remove`` on real photos).  rembg
itself still runs every other model, and downloads the weights (``segment.py``).
"""

import os

import numpy as np

#: the models whose rembg sessions are U2netpSession's steps (320 x 320, ImageNet mean/std)
MODELS = ("u2netp", "u2net", "u2net_human_seg", "silueta")
SIZE = (320, 320)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def providers():
    """rembg's choice: CUDA when this onnxruntime has it, else the CPU."""
    import onnxruntime as ort

    gpu = ort.get_device() == "GPU" and "CUDAExecutionProvider" in \
        ort.get_available_providers()
    return (["CUDAExecutionProvider"] if gpu else []) + ["CPUExecutionProvider"]


def session_options(spin=True, threads=None, arena=True):
    """onnxruntime's options for a U²-Net session (ours and rembg's alike): ``threads`` for
    one run (None: ``$OMP_NUM_THREADS`` when set, rembg's way, else every core); ``spin``:
    as :func:`onnx_depth.session`'s; ``arena``: onnxruntime's memory arena (sessions that
    run side by side go without it: two held 1.3 GB at their peak with it, 0.84 GB
    without, as fast)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = threads or os.environ.get("OMP_NUM_THREADS")
    if threads:
        options.inter_op_num_threads = options.intra_op_num_threads = int(threads)
    options.enable_cpu_mem_arena = bool(arena)
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class U2NetSession:
    """A session of a U²-Net model file; ``predict(PIL image) -> [mask]`` as rembg's.
    ``spin``, ``threads``, ``arena``: :func:`session_options`."""

    def __init__(self, name, weights, spin=True, threads=None, arena=True):
        import onnxruntime as ort

        self.model_name = name
        self.inner_session = ort.InferenceSession(
            weights, sess_options=session_options(spin, threads, arena),
            providers=providers())

    def normalize(self, img):
        from PIL import Image

        im = np.array(img.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS))
        im = im / max(np.max(im), 1e-6)
        x = np.zeros((im.shape[0], im.shape[1], 3))
        for c in range(3):
            x[:, :, c] = (im[:, :, c] - MEAN[c]) / STD[c]
        return {self.inner_session.get_inputs()[0].name:
                np.expand_dims(x.transpose((2, 0, 1)), 0).astype(np.float32)}

    def predict(self, img):
        from PIL import Image

        pred = self.inner_session.run(None, self.normalize(img))[0][:, 0, :, :]
        hi, lo = np.max(pred), np.min(pred)
        pred = np.squeeze((pred - lo) / (hi - lo))
        mask = Image.fromarray((pred.clip(0, 1) * 255).astype("uint8"), mode="L")
        return [mask.resize(img.size, Image.Resampling.LANCZOS)]
