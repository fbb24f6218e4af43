"""Learned depth as weak evidence of a ``--views`` surface: where the plane sweep found no
depth (no texture, a dark bottom, a view no neighbour confirms), a single-photo depth
model's output -- aligned to depths the job measured -- says where the surface is.

The model (:func:`estimator`): ``--depth-model NAME`` loads it as a single photo does
(:func:`stages.depth_estimator`, its errors and downloads); ``auto`` (the default) takes
:data:`models.DEFAULT_DEPTH_MODEL` only when it is on disk already (the models folder or
the Hugging Face cache), never downloads it and says nothing when it is missing: without
it the surface is what the photos alone give (no inflation falls back here);
``inflate`` (no network) turns it off.

Per registered view (:func:`align_view`): the model's raw output on the working-size photo
(relative inverse depth for Depth Anything, or metric depth) is fitted to the view's
*known depths* by a robust affine fit (:func:`fit`): ``1/z = a * raw + b`` for a relative
model, ``z = a * raw + b`` for a metric one.  The known depths are COLMAP's sparse points
the view sees (:func:`point_samples`: projected inside its mask and in front of it, and
not occluded: on its consistency-checked plane-sweep depth, or where that has none at the
hull's entry), else -- given cameras, or too few points -- its own checked plane-sweep
depths (:func:`stereo_samples`).  A view with fewer than :data:`MIN_SAMPLES` inliers, a
scale that is not positive or a fit no better than a constant depth gets none.

The fusion (:func:`add_views`): the aligned depth fills only the pixels of the view's mask
the plane sweep (and its smooth fill) left empty, and only within the hull's range along
each pixel's ray, with the weight :data:`LEARNED_WEIGHT`: a measured depth anywhere near
outweighs it tenfold.
"""

import dataclasses
from typing import List, Optional

import numpy as np
from PIL import Image

from .. import models, stages
from ..depth import onnx_repo
from ..errors import Img2MeshError

#: the weight of an aligned learned depth in the fusion, against the photo-consistency
#: scores of measured depths (at least :data:`stereo.MIN_SCORE`, 0.5) and like a smoothly
#: filled one (:data:`stereo.FILLED_WEIGHT`; :func:`fusion.fuse` clips weights to 0.05..1)
LEARNED_WEIGHT = 0.05
#: a view is aligned from at least this many known depths (inliers of the fit)
MIN_SAMPLES = 20
#: at most this many of a view's plane-sweep depths are known depths (an even subsample)
MAX_SAMPLES = 4000
#: pairs of known depths tried by the least-median search (:func:`fit`)
TRIALS = 256
#: a known depth is an inlier of the fit when its relative error is under this many robust
#: standard deviations (1.4826 x the median error) ...
INLIER_SIGMAS = 2.5
#: ... or under this relative error (a fit exact up to rounding has a median of 0)
MIN_TOLERANCE = 0.01
#: the fit's median relative error must be under this share of the best constant depth's:
#: a model that explains less of the view's depths than that is noise there
MAX_RESIDUAL_SHARE = 0.6
#: a COLMAP point is on the surface a view sees when it lies this many voxels from the
#: view's plane-sweep depth (or, where there is none, from the hull's entry): the depth
#: maps' consistency tolerance (:func:`surface.reconstruct`)
VISIBLE_VOXELS = 2.0


@dataclasses.dataclass
class ViewsDepth:
    """The learned depth of a ``--views`` job's registered views: ``raws`` (the model's
    output per view, float32 at the working size, in the order of the cameras), ``kind``
    (``"relative"``: inverse depth up to scale and shift; ``"metric"``), ``points`` (COLMAP's
    sparse points (N, 3) in the cameras' world, or None with given cameras)."""
    raws: List[np.ndarray]
    kind: str
    points: Optional[np.ndarray] = None


# ---------------------------------------------------------------- the model


def estimator(job, reporter, cache):
    """``(estimator, label)`` of the job's depth model for ``--views``, or ``(None, None)``
    (see the module doc: ``auto`` only from disk, silently; ``inflate`` none; a name as a
    single photo loads it, errors included)."""
    spec, places = job.depth, job.models
    if spec.model == "inflate":
        return None, None
    if spec.model == "auto":
        spec = dataclasses.replace(spec, model=models.DEFAULT_DEPTH_MODEL)
        places = dataclasses.replace(places, allow_download=False)
        try:  # (quietly: no "Loading depth model" stage for a model that is not there)
            onnx_repo.locate(spec.model, places.folder, False, None, spec.backend,
                             spec.variant)
        except Img2MeshError:
            return None, None
    return stages.depth_estimator(spec, reporter, cache, places)


def predict_views(est, images, reporter):
    """The model's raw output (float32, each image's size) for ``images`` (the registered
    views' working-size photos), with progress ("Estimating depth (k/N)")."""
    n = len(images)
    reporter.stage("depth", f"Estimating depth (0/{n})")
    raws = []
    for k, rgb in enumerate(images):
        raw, _ = est.predict(rgb)
        raws.append(np.asarray(raw, np.float32))
        reporter.update((k + 1) / n, f"Estimating depth ({k + 1}/{n})")
    return raws


def kind_of(est, spec):
    """What the model's output is: its own kind, unless ``--depth-kind`` says otherwise."""
    return est.kind if spec.kind == "auto" else spec.kind


# ---------------------------------------------------------------- known depths


def point_samples(cam, points, mask, measured, near, margin):
    """``(u, v, z)`` of the sparse ``points`` that view ``cam`` sees: pixel coordinates
    (floats, pixel ``i``'s centre at ``i + 0.5``) and camera z.  Kept: in front of the
    camera, inside the image and ``mask``, and on the surface the view sees -- within
    ``margin`` of its ``measured`` (consistency-checked plane-sweep) depth, or where that
    has none, of the hull's entry ``near``.  A point behind the surface (the far side of
    the object, seen through it by the projection) is not a depth of this view."""
    h, w = mask.shape
    uv, z = cam.project(np.asarray(points, np.float64).reshape(-1, 3))
    inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    uv, z = uv[inside], z[inside]
    x, y = uv[:, 0].astype(np.int64), uv[:, 1].astype(np.int64)
    d, entry = measured[y, x], near[y, x]
    seen = np.where(np.isfinite(d), np.abs(z - d) <= margin, np.abs(z - entry) <= margin)
    keep = mask[y, x] & np.isfinite(entry) & seen
    return uv[keep, 0], uv[keep, 1], z[keep]


def stereo_samples(measured, count=MAX_SAMPLES):
    """``(u, v, z)`` of at most ``count`` of the ``measured`` depth map's pixels (finite;
    an even subsample), pixel centres as coordinates."""
    v, u = np.nonzero(np.isfinite(measured))
    if len(u) > count:
        pick = np.linspace(0, len(u) - 1, count).astype(np.int64)
        u, v = u[pick], v[pick]
    return u + 0.5, v + 0.5, measured[v, u].astype(np.float64)


def sample(image, u, v):
    """``image`` at pixel coordinates ``(u, v)`` (pixel centres at ``i + 0.5``), bilinear."""
    from scipy import ndimage

    return ndimage.map_coordinates(image.astype(np.float64), [v - 0.5, u - 0.5], order=1,
                                   mode="nearest")


# ---------------------------------------------------------------- the fit


def _target(z, kind):
    """What is affine in the model's output: inverse depth (relative) or depth (metric)."""
    return 1.0 / z if kind == "relative" else z


def _errors(a, b, raw, z, kind):
    """Relative errors of the fits ``(a, b)`` (arrays broadcast against the samples): for
    a relative model the inverse depth's, ``|(a raw + b) z - 1|`` (about the depth's, and
    finite where the fit's inverse depth is not positive)."""
    pred = a * raw + b
    return np.abs(pred * z - 1.0) if kind == "relative" else np.abs(pred - z) / z


def _least_squares(raw, z, kind):
    """``(a, b)`` minimising the squared relative errors (:func:`_errors`) of the samples:
    weighted linear least squares on :func:`_target`."""
    w = z if kind == "relative" else 1.0 / z  # (the square roots of the weights)
    A = np.stack([raw * w, w], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, _target(z, kind) * w, rcond=None)
    return float(a), float(b)


def fit(raw, z, kind, trials=TRIALS, seed=0):
    """``(a, b, inliers)``: the robust fit of the known depths ``z`` (camera z) by the
    model's output ``raw`` at their pixels -- ``1/z = a raw + b`` (``kind`` relative) or
    ``z = a raw + b`` (metric) -- or None when it is not to be trusted.

    Least median of squares over ``trials`` pairs (the line through each pair; up to half
    the samples may be outliers: COLMAP's mismatched points, the model's wrong edges), then
    least squares on the inliers of the best (:data:`INLIER_SIGMAS`, :data:`MIN_TOLERANCE`),
    twice.  None: fewer than :data:`MIN_SAMPLES` inliers, a scale ``a`` that is not
    positive (farther must stay farther), or a median error above
    :data:`MAX_RESIDUAL_SHARE` of the best constant depth's."""
    raw, z = np.asarray(raw, np.float64), np.asarray(z, np.float64)
    ok = np.isfinite(raw) & np.isfinite(z) & (z > 0)
    raw, z = raw[ok], z[ok]
    n = len(z)
    if n < MIN_SAMPLES or np.ptp(raw) <= 1e-12 * max(1.0, float(np.abs(raw).max())):
        return None
    i, j = np.random.default_rng(seed).integers(0, n, (2, trials))
    t = _target(z, kind)
    dr = raw[i] - raw[j]
    use = np.abs(dr) > 1e-12 * np.ptp(raw)
    a = (t[i][use] - t[j][use]) / dr[use]
    b = t[i][use] - a * raw[i][use]
    a, b = a[a > 0], b[a > 0]
    if not len(a):
        return None
    medians = np.median(_errors(a[:, None], b[:, None], raw, z, kind), axis=1)
    best = int(np.argmin(medians))
    a, b = float(a[best]), float(b[best])
    for _ in range(2):
        err = _errors(a, b, raw, z, kind)
        inliers = err <= max(INLIER_SIGMAS * 1.4826 * float(np.median(err)), MIN_TOLERANCE)
        if inliers.sum() < MIN_SAMPLES:
            return None
        a, b = _least_squares(raw[inliers], z[inliers], kind)
    err = _errors(a, b, raw, z, kind)
    inliers = err <= max(INLIER_SIGMAS * 1.4826 * float(np.median(err)), MIN_TOLERANCE)
    constant = np.abs(z / np.median(z) - 1.0)  # (the best constant's errors, about)
    if a <= 0 or inliers.sum() < MIN_SAMPLES or \
            np.median(err) > MAX_RESIDUAL_SHARE * max(float(np.median(constant)), 1e-9):
        return None
    return a, b, inliers


def to_depth(raw, a, b, kind):
    """Camera z of the model's output ``raw`` under the fit ``(a, b)`` (NaN where a
    relative model's aligned inverse depth is not positive: infinitely far)."""
    pred = a * raw.astype(np.float64) + b
    if kind == "relative":
        pred = np.where(pred > 0, 1.0 / np.maximum(pred, 1e-12), np.nan)
    return pred.astype(np.float32)


# ---------------------------------------------------------------- per view, and the fusion


def resized(raw, shape):
    """The model's output at another image size ``shape`` (h, w), bilinear."""
    if raw.shape == tuple(shape):
        return raw.astype(np.float32)
    h, w = shape
    return np.asarray(Image.fromarray(raw.astype(np.float32), mode="F").resize(
        (w, h), Image.BILINEAR), np.float32)


def align_view(cam, raw, kind, mask, measured, near, points, margin):
    """View ``cam``'s learned depth (camera z at ``mask``'s size; NaN outside the mask) and
    how many known depths agreed, or None when it cannot be aligned (:func:`fit`).
    ``raw``: the model's output (any size); ``measured``: the view's consistency-checked
    plane-sweep depth; ``near``: the hull's entry; ``points``: COLMAP's or None; ``margin``
    (world units): :func:`point_samples`'s."""
    raw = resized(raw, mask.shape)
    u = v = z = np.zeros(0)
    if points is not None and len(points):
        u, v, z = point_samples(cam, points, mask, measured, near, margin)
    if len(z) < MIN_SAMPLES:  # given cameras, or a view few points reach
        u, v, z = stereo_samples(np.where(mask, measured, np.nan))
    found = fit(sample(raw, u, v), z, kind)
    if found is None:
        return None
    a, b, inliers = found
    return np.where(mask, to_depth(raw, a, b, kind), np.nan), int(inliers.sum())


def add_views(learned, cams, masks, measured, depths, scores, nears, fars, margin):
    """Aligns each view's learned depth (:func:`align_view`) and puts it into ``depths``
    (lists, changed in place) where the view's depth map has none, inside its mask and
    within the hull's range (``nears``..``fars``, camera z), with the score
    :data:`LEARNED_WEIGHT`.  Returns how many views were aligned."""
    aligned = 0
    for i, cam in enumerate(cams):
        made = align_view(cam, learned.raws[i], learned.kind, masks[i], measured[i],
                          nears[i], learned.points, margin)
        if made is None:
            continue
        aligned += 1
        z = made[0]
        with np.errstate(invalid="ignore"):
            use = masks[i] & ~np.isfinite(depths[i]) & (z >= nears[i]) & (z <= fars[i])
        depths[i] = np.where(use, z, depths[i]).astype(np.float32)
        scores[i] = np.where(use, LEARNED_WEIGHT, scores[i]).astype(np.float32)
    return aligned
