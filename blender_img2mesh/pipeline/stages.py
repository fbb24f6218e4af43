"""The pipeline's stages over one photo, and the cache of what they make.

Each stage takes its own part of the :class:`job.Job` (a :class:`job.MaskSpec`, a
:class:`job.DepthSpec` ...) and a ``cache`` dict that a warm worker keeps between jobs:
loaded models under their own keys (:func:`cached`), the last photo's mask and raw depth
under the slots ``"mask"`` and ``"depth"`` (:func:`reuse`, keyed by :func:`photo_key`).
:func:`run.run` strings them together; the worker's ``preload`` (:mod:`command.preload`) and
the batch's work ahead (:mod:`batch.ahead`) call the same functions to fill the same cache
slots."""

import os

import numpy as np

from . import models
from .depth import convert, estimate, onnx_repo
from .errors import Img2MeshError, ModelUnavailable
from .geometry import camera
from .mask import segment
from .source import image_io

DEFAULT_THICKNESS = 0.5
#: a ``cache`` entry: False makes the onnxruntime sessions made for that cache sleep
#: between operators (:func:`depth.onnx_run.session`): the local batch's, which runs two
#: stages side by side (:mod:`batch.ahead`)
ORT_SPIN = "ort_spin"
#: a ``cache`` entry: the background-removal session's onnxruntime threads (default: all
#: cores), 1 for the caches of :mod:`multiview.views_each`'s side-by-side masks
ORT_THREADS = "ort_threads"
#: a ``cache`` entry: False makes the background-removal session go without onnxruntime's
#: memory arena (:func:`mask.u2net.session_options`): the side-by-side masks' again
ORT_ARENA = "ort_arena"


def cached(cache, key, make):
    """``cache[key]``, made by ``make()`` the first time."""
    if key not in cache:
        cache[key] = make()
    return cache[key]


def photo_key(photo, rgb):
    """Which photo file at which working size (None for a generated picture): a warm
    worker keeps the last photo's mask and raw depth under it, so a second job on the same
    file with other settings (thickness, back, detail ...) skips both networks."""
    if not photo:
        return None
    st = os.stat(photo)
    return os.path.realpath(photo), st.st_mtime_ns, st.st_size, rgb.shape


def reuse(cache, slot, key, make, reused):
    """``make()``, or the value kept in ``cache[slot]`` when it was made for ``key`` (one
    value per slot: the last photo's).  Appends ``slot`` to ``reused`` on a hit."""
    if key is not None and cache.get(slot, (None,))[0] == key:
        reused.append(slot)
        return cache[slot][1]
    value = make()
    if key is not None:
        cache[slot] = (key, value)
    return value


def segmenter(spec, alpha, reporter, cache, places):
    """A function giving the background-removal session, when it will really run (else
    None); it runs on the mask's thread.  ``spec``: a :class:`job.MaskSpec`; ``places``: a
    :class:`job.Models`."""
    if spec.keep_background or spec.file or alpha is not None:
        return None
    name, folder, allow = spec.segmenter, places.folder, places.allow_download
    reporter.stage("model", f"Loading background removal ({name})")
    home = segment.rembg_home(name, folder, allow)  # a bad name fails at once
    segment.import_runtime(name, home)
    threads, arena = cache.get(ORT_THREADS), cache.get(ORT_ARENA, True)
    return lambda: cached(cache, ("rembg", name, folder, threads, arena),
                          lambda: segment.rembg_session(name, folder, allow,
                                                        cache.get(ORT_SPIN, True), threads,
                                                        arena))


def make_mask(spec, photo, rgb, alpha, session, exact_depth=False, photo_size=None,
              silhouette=False):
    """The object's mask at working size, and where it came from (runs on a thread: no
    progress reporting here).  ``spec``: a :class:`job.MaskSpec`; ``photo``: the photo's
    file (for messages); ``session``: what :func:`segmenter` gave; ``exact_depth``: the
    depth comes from a file; ``photo_size`` (w, h): the photo's own size, for messages;
    ``silhouette``: one of several views' outlines (``--views``): its holes are kept, and
    those the segmenter filled are opened where the background shows through
    (:func:`segment.open_holes`; a torus's, a handle's: other views may not see through
    them, and a mistaken hole in one view is outvoted by the others), and its outline is
    not eroded (the hull must hold the object)."""
    shape = rgb.shape[:2]
    if spec.keep_background:
        return np.ones(shape, bool), "none"
    # a given mask with a given depth map: both exact, keep the outline (the erosion is
    # for estimated depth, least reliable there; flying pixels are removed later anyway)
    erode = 0 if exact_depth or silhouette else 1
    if spec.file:
        mask = image_io.load_mask(spec.file, shape, photo_size)
        return segment.require_object(segment.clean_mask(mask, erode, fill_holes=False),
                                      "mask", spec.file), "mask"
    if alpha is not None:
        mask = image_io.resize_mask(alpha, shape)
        return segment.require_object(segment.clean_mask(mask, erode, fill_holes=False),
                                      "image's alpha channel", photo), "alpha"
    mask = segment.remove_background(rgb, session())
    mask = segment.clean_mask(mask, erode, fill_holes=not silhouette)
    if silhouette:
        mask = segment.open_holes(rgb, mask)
    return segment.require_object(mask, "background removal's mask", photo), spec.segmenter


def predict(estimator, rgb, cache, photo, reused):
    """The model's raw output and fov, kept for the next job on the same photo
    (``photo``: its :func:`photo_key`)."""
    est, label = estimator
    return reuse(cache, "depth", photo and (photo, label, est.device, est.backend),
                 lambda: est.predict(rgb), reused)


def depth_estimator(spec, reporter, cache, places):
    """(the depth model to use, its label), or (None, "inflate") for inflation -- with a
    warning when ``auto`` finds no model.  ``spec``: a :class:`job.DepthSpec`."""
    name = spec.model
    if name == "inflate":
        return None, "inflate"
    wanted = models.DEFAULT_DEPTH_MODEL if name == "auto" else name
    is_folder = models.looks_like_path(wanted) or os.path.isdir(os.path.expanduser(wanted))
    short = os.path.basename(os.path.normpath(wanted)) if is_folder else wanted
    reporter.stage("model", f"Loading depth model ({short})")
    reporter.update(0.0, f"Reading the depth model's files ({short})", phase="read")
    try:  # a download moves the first half of the stage
        folder, hub_id, network = onnx_repo.locate(
            wanted, places.folder, places.allow_download,
            lambda fr, msg: reporter.update(0.5 * fr, msg, phase="read"),
            spec.backend, spec.variant)
    except ModelUnavailable as err:
        if name != "auto":
            raise
        reporter.warn(f"depth model {wanted} is not available ({err.message}); used "
                      f"silhouette inflation instead. For learned depth, allow downloads or "
                      f"put the model at {err.file}")
        return None, "inflate"
    if network is not None:  # a ready ONNX repository: onnxruntime alone
        est = cached(cache, ("depth", folder, network, spec.device),
                     lambda: onnx_repo.load(folder, network, spec.device, reporter,
                                            cache.get(ORT_SPIN, True),
                                            not onnx_repo.in_hub_cache(folder)))
        return est, hub_id or folder
    backend = "onnx" if spec.backend == "export" else spec.backend
    est = cached(cache, ("depth", folder, spec.device, backend),
                 lambda: estimate.load_estimator(folder, spec.device, backend,
                                                 places.folder, reporter,
                                                 cache.get(ORT_SPIN, True)))
    return est, hub_id or folder


def metric_depth(spec, rgb, mask, estimator, reporter, predict, photo_size=None):
    """Metric depth (HxW, camera z), the focal length in px, and what made them.
    ``spec``: a :class:`job.DepthSpec`; ``mask`` is narrowed in place to where there is
    depth; ``predict(rgb)`` runs the model (or gives its kept output); ``photo_size`` as
    :func:`make_mask`'s."""
    h, w = rgb.shape[:2]
    thickness = spec.thickness
    info = {}
    if spec.file:
        values = image_io.load_depth_map(spec.file, (h, w), photo_size)
        kind = "metric" if spec.kind == "auto" else spec.kind
        scale = spec.scale
        if scale is None:
            scale = 0.001 if values.max() > 255 and np.all(values == np.round(values)) and \
                not spec.file.lower().endswith((".npy", ".exr")) else 1.0
        fov = spec.fov or camera.DEFAULT_FOV
        f = camera.focal_px(w, h, fov)
        reporter.stage("depth", "Reading the depth map")
        z = convert.depth_from_file(values, kind, scale, mask, f,
                                    thickness or DEFAULT_THICKNESS, file=spec.file)
        mask &= convert.valid_depth(values, kind)  # in place: no depth = not the object
        info.update(depth_model="depth-map", depth_kind=kind, depth_scale=scale)
    else:
        est, label = estimator
        if est is None:
            fov = spec.fov or camera.DEFAULT_FOV
            f = camera.focal_px(w, h, fov)
            reporter.stage("depth", "Inflating the silhouette")
            z = convert.inflate_depth(mask, f, thickness or DEFAULT_THICKNESS)
            kind = "inflate"
        else:
            reporter.stage("depth", f"Estimating depth ({est.model_type}, {est.device})")
            raw, model_fov = predict(rgb)
            fov = spec.fov or model_fov or camera.DEFAULT_FOV
            f = camera.focal_px(w, h, fov)
            kind = est.kind if spec.kind == "auto" else spec.kind
            if kind == "relative":
                z = convert.relative_to_depth(raw, mask, f, thickness or DEFAULT_THICKNESS)
            else:
                z = np.maximum(raw, 1e-3)
                if thickness:
                    z = convert.rescale_metric(z, mask, f, thickness)
        info.update(depth_model=label, depth_kind=kind,
                    depth_backend=est.backend if est is not None else None)
    if not np.isfinite(z[mask]).all() or (z[mask] <= 0).any():
        raise Img2MeshError("depth has non-positive or invalid values inside the object",
                            file=spec.file, hint="check --depth-kind and --depth-scale")
    info.update(fov_deg=round(float(fov), 4), focal_px=round(float(f), 4))
    return z.astype(np.float32), f, info
