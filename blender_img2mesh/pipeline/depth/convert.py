"""Depth in the camera's units from what a model, a file or the silhouette gives: relative
inverse depth to metric depth, metric depth rescaled to a thickness, the silhouette
inflated, a depth map file's values checked and converted.  numpy and scipy only.

``--thickness`` is "how deep the visible part is, relative to how wide it is": 0.5 makes
a ball round; 0.2 a relief; 1.0 a deep object.
"""

import numpy as np
from scipy import ndimage

from ..errors import Img2MeshError

#: distance of the object's nearest point for relative depth and inflation (units)
Z_NEAR = 1.0


def object_extent(mask, f, z):
    """The object's larger extent across the image, in scene units at distance ``z``."""
    ys, xs = np.nonzero(mask)
    pixels = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    return pixels * z / f


def relative_to_depth(disparity, mask, f, thickness, z_near=Z_NEAR):
    """Affine-invariant disparity -> metric depth (see the module docstring)."""
    d = disparity[mask]
    lo, hi = np.percentile(d, [1.0, 99.0])
    if not np.isfinite(hi - lo) or hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return np.full(disparity.shape, z_near, np.float32)
    n = np.clip((disparity - lo) / (hi - lo), -0.25, 1.25)
    z_far = z_near + thickness * object_extent(mask, f, z_near)
    inv = n / z_near + (1.0 - n) / z_far
    inv = np.maximum(inv, 0.25 / z_far)
    return (1.0 / inv).astype(np.float32)


def rescale_metric(depth, mask, f, thickness):
    """Stretch metric depth about the object's near point so its depth is ``thickness``
    times its extent (only when the user asks for a thickness with a metric model)."""
    d = depth[mask]
    near, far = np.percentile(d, [1.0, 99.0])
    if far - near <= 1e-9:
        return depth
    want = thickness * object_extent(mask, f, near)
    return (near + (depth - near) * (want / (far - near))).astype(np.float32)


def inflate_depth(mask, f, thickness, z_near=Z_NEAR):
    """No-weights depth: the silhouette blown up like a balloon.

    Height above the outline follows a circle's profile, ``sqrt(2 R d - d^2)`` of the
    (smoothed) distance ``d`` to the outline, so a disc becomes a hemisphere; the result is
    scaled so the visible depth is ``thickness`` times the object's extent.
    """
    # the image border is not an outline: an object cut by it continues beyond it
    dist = ndimage.distance_transform_edt(np.pad(mask, 1, mode="edge"))[1:-1, 1:-1]
    ys, xs = np.nonzero(mask)
    size_px = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    dist = ndimage.gaussian_filter(dist, sigma=max(0.5, 0.01 * size_px))
    radius = max(dist.max(), 1e-6)
    height = np.sqrt(np.clip(2.0 * radius * dist - dist * dist, 0.0, None)) / radius
    depth_extent = thickness * size_px * z_near / f
    z = z_near + depth_extent * (1.0 - height)
    return z.astype(np.float32)


def valid_depth(values, kind="metric"):
    """Where a given depth map has a value: finite, and for metric depth positive (0,
    NaN and inf mark "no surface here": a ray that missed, a depth sensor's hole).  In a
    relative map (disparity) 0 is a valid value, so only non-finite ones are invalid."""
    finite = np.isfinite(values)
    return finite & (values > 0) if kind == "metric" else finite


def depth_from_file(values, kind, scale, mask, f, thickness, file=None):
    """A user-given depth map (``file``): metric (times ``scale``) or relative disparity.
    The caller drops the pixels without a value (:func:`valid_depth`) from the mask."""
    if not (mask & valid_depth(values, kind)).any():
        what = "positive" if kind == "metric" else "finite"
        raise Img2MeshError(f"the depth map has no {what} depth inside the object",
                            file=file, hint="check --depth-scale and --depth-kind, and that "
                            "the depth map belongs to this image")
    values = np.where(np.isfinite(values), values, 0.0).astype(np.float32)
    if kind == "relative":
        return relative_to_depth(values, mask, f, thickness)
    return values * float(scale)
