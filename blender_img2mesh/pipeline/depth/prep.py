"""A depth model's pre- and post-processing in numpy and Pillow (no torch, no transformers),
read from the model's own ``preprocessor_config.json``.

It does what transformers' image processors do on the CPU (their Pillow backend, which is
what they use without torchvision), step for step, so a network run elsewhere (ONNX
Runtime) gets the same input tensor and its output is turned into the same depth map:

* GLPN: resize (Pillow) to height and width rounded *down* to ``size_divisor``; rescale.
* DPT / Depth Anything (``DPTImageProcessor``): resize (Pillow) to ``size``, keeping the
  aspect ratio (scaled as little as possible) when asked, each side rounded to a multiple
  of ``ensure_multiple_of`` (never below it); rescale; normalise; optional centre padding.
* ZoeDepth: rescale; reflect-pad by ``int(sqrt(side / 2) * 3)``; bilinear resize with
  aligned corners (as ``torch.nn.functional.interpolate``); normalise.

Back: the network's output is resized to the photo with bicubic interpolation exactly as
``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`` computes it
(ZoeDepth: first to the padded size, then its padding is cut away).
"""

import json
import math
import os

import numpy as np
from PIL import Image

IMAGENET_STANDARD = [0.5, 0.5, 0.5]
#: each processor's defaults (the class attributes a saved config may leave out)
DEFAULTS = {
    "GLPNImageProcessor": dict(do_resize=True, size_divisor=32, resample=2, do_rescale=True,
                               rescale_factor=1 / 255, do_normalize=False),
    "DPTImageProcessor": dict(do_resize=True, size={"height": 384, "width": 384}, resample=3,
                              keep_aspect_ratio=False, ensure_multiple_of=1, do_rescale=True,
                              rescale_factor=1 / 255, do_normalize=True,
                              image_mean=IMAGENET_STANDARD, image_std=IMAGENET_STANDARD,
                              do_pad=False, size_divisor=None),
    "ZoeDepthImageProcessor": dict(do_resize=True, size={"height": 384, "width": 512},
                                   resample=2, keep_aspect_ratio=True,
                                   ensure_multiple_of=1 / 32, do_rescale=True,
                                   rescale_factor=1 / 255, do_normalize=True,
                                   image_mean=IMAGENET_STANDARD,
                                   image_std=IMAGENET_STANDARD, do_pad=True),
}
#: model types whose networks the ONNX backend runs (Depth Pro's output needs more)
MODEL_TYPES = ("glpn", "dpt", "depth_anything", "zoedepth")


class Unsupported(Exception):
    """This model or its processor is not one the numpy processing reproduces."""


def processor_name(raw):
    name = raw.get("image_processor_type") or raw.get("feature_extractor_type") or ""
    for suffix in ("Fast", "Pil", "FeatureExtractor"):
        if name.endswith(suffix):
            name = name[:-len(suffix)] + ("ImageProcessor" if suffix ==
                                          "FeatureExtractor" else "")
    return name


def read_config(folder):
    """``(model_type, kind, processing)`` of a model folder, or raise :class:`Unsupported`.
    ``kind`` is "metric" or "relative", as :class:`depth.DepthEstimator` decides it."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise Unsupported(f"model type {model_type!r}")
    try:
        with open(os.path.join(folder, "preprocessor_config.json"), encoding="utf-8") as fh:
            raw = json.load(fh)
    except OSError:
        raise Unsupported("no preprocessor_config.json") from None
    name = processor_name(raw)
    if name not in DEFAULTS:
        raise Unsupported(f"image processor {name or 'unknown'!r}")
    proc = dict(DEFAULTS[name], **{k: v for k, v in raw.items() if k in DEFAULTS[name]})
    proc["type"] = name
    if isinstance(proc.get("size"), int):
        proc["size"] = {"height": proc["size"], "width": proc["size"]}
    if model_type == "depth_anything":
        kind = config.get("depth_estimation_type") or "relative"
    else:
        kind = "metric" if model_type in ("glpn", "zoedepth") else "relative"
    return model_type, kind, proc


def _constrain(val, multiple, min_val=0):
    """DPT's ``constrain_to_multiple_of`` (Python's round, then never below min_val)."""
    x = round(val / multiple) * multiple
    if x < min_val:
        x = math.ceil(val / multiple) * multiple
    return x


def _keep_aspect(h, w, size):
    scale_h, scale_w = size["height"] / h, size["width"] / w
    if abs(1 - scale_w) < abs(1 - scale_h):
        scale_h = scale_w
    else:
        scale_w = scale_h
    return scale_h, scale_w


def input_size(h, w, proc):
    """The network's input (height, width) for an image of h x w pixels (before padding)."""
    kind = proc["type"]
    if not proc["do_resize"]:
        return h, w
    if kind == "GLPNImageProcessor":
        d = proc["size_divisor"]
        return h // d * d, w // d * d
    scale_h, scale_w = (_keep_aspect(h, w, proc["size"]) if proc["keep_aspect_ratio"]
                        else (proc["size"]["height"] / h, proc["size"]["width"] / w))
    m = proc["ensure_multiple_of"]
    if kind == "ZoeDepthImageProcessor":
        return (int((np.round(scale_h * h / m) * m).astype(int)),
                int((np.round(scale_w * w / m) * m).astype(int)))
    return _constrain(scale_h * h, m), _constrain(scale_w * w, m)


def _rescale(chw, proc):
    if proc["do_rescale"]:
        return (chw.astype(np.float64) * proc["rescale_factor"]).astype(np.float32)
    return chw.astype(np.float32)


def _normalize(chw, proc):
    if not proc["do_normalize"]:
        return chw
    mean = np.asarray(proc["image_mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(proc["image_std"], np.float32).reshape(-1, 1, 1)
    return ((chw - mean) / std).astype(np.float32)


def zoe_pad(h, w):
    return int(np.sqrt(h / 2) * 3), int(np.sqrt(w / 2) * 3)


def preprocess(rgb, proc):
    """HxWx3 uint8 -> 1x3xHxW float32, as the model's image processor makes it."""
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    if proc["type"] == "ZoeDepthImageProcessor":
        x = _rescale(rgb.transpose(2, 0, 1), proc)
        if proc["do_pad"]:
            ph, pw = zoe_pad(h, w)
            x = np.pad(x, ((0, 0), (ph, ph), (pw, pw)), mode="reflect")
        if proc["do_resize"]:
            nh, nw = input_size(x.shape[1], x.shape[2], proc)
            ry = linear_matrix(x.shape[1], nh)
            rx = linear_matrix(x.shape[2], nw)
            x = np.einsum("oh,chw,pw->cop", ry, x.astype(np.float64), rx).astype(np.float32)
        return _normalize(x, proc)[None]
    if proc["do_resize"]:
        nh, nw = input_size(h, w, proc)
        rgb = np.asarray(Image.fromarray(rgb).resize((nw, nh), resample=proc["resample"]))
    x = _normalize(_rescale(rgb.transpose(2, 0, 1), proc), proc)
    if proc["type"] == "DPTImageProcessor" and proc["do_pad"] and proc["size_divisor"]:
        x = _centre_pad(x, proc["size_divisor"])
    return np.ascontiguousarray(x)[None]


def _centre_pad(x, divisor):
    pads = []
    for n in x.shape[1:]:
        extra = math.ceil(n / divisor) * divisor - n
        pads.append((extra // 2, extra - extra // 2))
    return np.pad(x, ((0, 0), *pads), mode="constant")


def postprocess(predicted, h, w, proc):
    """The network's (1, h', w') output -> the photo's h x w float32 map."""
    depth = np.asarray(predicted, np.float32).reshape(predicted.shape[-2:])
    if proc["type"] == "ZoeDepthImageProcessor":
        ph, pw = zoe_pad(h, w) if proc["do_pad"] else (0, 0)
        depth = bicubic(depth, h + 2 * ph, w + 2 * pw)
        depth = depth[ph:ph + h, pw:pw + w]
    return bicubic(depth, h, w)


def linear_matrix(n_in, n_out):
    """Weights (n_out x n_in) of 1-D linear interpolation with aligned corners."""
    m = np.zeros((n_out, n_in))
    if n_out == 1 or n_in == 1:
        m[:, 0] = 1.0
        return m
    src = np.arange(n_out) * ((n_in - 1) / (n_out - 1))
    i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = src - i0
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), 1.0 - t)
    np.add.at(m, (rows, i1), t)
    return m


def _cubic(t, a=-0.75):
    """The four weights of torch's bicubic kernel for fractional offsets t."""
    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def cubic_matrix(n_in, n_out):
    """Weights (n_out x n_in) of torch's 1-D bicubic resize (align_corners=False, no
    antialiasing; indices clamped at the borders)."""
    if n_in == n_out:
        return np.eye(n_in)
    scale = n_in / n_out
    src = (np.arange(n_out) + 0.5) * scale - 0.5
    i0 = np.floor(src).astype(int)
    weights = _cubic(src - i0)
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for k in range(4):
        np.add.at(m, (rows, np.clip(i0 - 1 + k, 0, n_in - 1)), weights[:, k])
    return m


def bicubic(img, h, w):
    """``F.interpolate(img[None, None], (h, w), mode="bicubic", align_corners=False)``."""
    if img.shape == (h, w):
        return img.astype(np.float32)
    ry = cubic_matrix(img.shape[0], h)
    rx = cubic_matrix(img.shape[1], w)
    return (ry @ img.astype(np.float64) @ rx.T).astype(np.float32)
