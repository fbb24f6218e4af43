"""The pinhole camera: field of view -> focal length, depth image -> 3D points, normals.

Camera frame (OpenCV's): x right, y down, z forward (away from the camera), in the units
of the depth.  Pixel ``(u, v)``'s centre is at ``u + 0.5, v + 0.5``; the principal point
is the image centre.  ``--fov`` is measured across the image's *longer* side, as Blender's
camera does with sensor fit "Auto", so a Blender camera with that angle lines up.
"""

import math

import numpy as np
from scipy import ndimage

from ..catalog import DEFAULT_FOV  # noqa: F401 -- 50 degrees: a normal lens (~39 mm FF)


def focal_px(width, height, fov_deg):
    """Focal length in pixels for a field of view across the longer side."""
    return 0.5 * max(width, height) / math.tan(math.radians(fov_deg) / 2.0)


def fov_deg(width, height, f):
    return math.degrees(2.0 * math.atan(0.5 * max(width, height) / f))


def backproject(depth, f):
    """Depth (HxW, along z) -> points (HxWx3) in the camera frame."""
    h, w = depth.shape
    u = (np.arange(w, dtype=np.float32) + 0.5 - 0.5 * w) / f
    v = (np.arange(h, dtype=np.float32) + 0.5 - 0.5 * h) / f
    pts = np.empty((h, w, 3), np.float32)
    pts[..., 0] = u[None, :] * depth
    pts[..., 1] = v[:, None] * depth
    pts[..., 2] = depth
    return pts


def unproject(uv, depth, f, width, height):
    """Image positions (Nx2, continuous pixels: pixel ``(i, j)``'s centre is
    ``(i + 0.5, j + 0.5)``) at depths ``depth`` (N) -> camera-frame points (Nx3): the
    inverse of :func:`project`, and :func:`backproject` at pixel centres."""
    z = np.asarray(depth, np.float64)
    return np.stack([(uv[:, 0] - 0.5 * width) / f * z, (uv[:, 1] - 0.5 * height) / f * z,
                     z], axis=1)


def project(points, f, width, height):
    """Camera-frame points (Nx3) -> pixel coordinates (Nx2, continuous, in pixels)."""
    z = np.maximum(points[:, 2], 1e-9)
    u = points[:, 0] / z * f + 0.5 * width
    v = points[:, 1] / z * f + 0.5 * height
    return np.stack([u, v], axis=1)


def extend_outside(depth, mask):
    """Replace depth outside ``mask`` by the nearest inside value (for clean gradients)."""
    if mask.all():
        return depth
    idx = ndimage.distance_transform_edt(~mask, return_distances=False, return_indices=True)
    return depth[idx[0], idx[1]]


def grid_normals(points):
    """Unit normals from the depth grid's neighbours, pointing toward the camera."""
    du = np.gradient(points, axis=1)
    dv = np.gradient(points, axis=0)
    n = np.cross(du, dv)
    n /= np.maximum(np.linalg.norm(n, axis=2, keepdims=True), 1e-12)
    flip = np.einsum("hwc,hwc->hw", n, points) > 0
    n[flip] *= -1.0
    return n


def depth_jumps(depth, f, max_slope=12.0, mask=None, ratio=2.0, max_steep=60.0):
    """Where depth jumps between neighbouring pixels (occlusion edges, "flying pixels"):
    ``(down, right)``, bool arrays of shape (H-1, W) and (H, W-1): the step from pixel
    ``(r, c)`` to ``(r+1, c)`` and to ``(r, c+1)``.

    A step between two neighbours is a jump when it is steeper than ``max_slope`` times
    the pixel's footprint (85 degrees from facing the camera) *and* not part of a steady
    slope: more than ``ratio`` times the smaller of the steps just before and after it
    along the same line.  A surface seen at a grazing angle (a box's side, a sphere's
    limb) is steep but steady and is kept -- it is real, often large, surface; a jump
    from one surface to another is much larger than the steps beside it.  Steps over
    ``max_steep`` footprints (89 degrees) are always jumps.  With ``mask``, only steps
    between two pixels of the mask count as "beside" (outside it, depth is padding).
    """
    footprint = depth / f
    out = []
    for axis in (0, 1):
        d = np.abs(np.diff(depth, axis=axis))
        if mask is not None:
            both = mask[:-1, :] & mask[1:, :] if axis == 0 else mask[:, :-1] & mask[:, 1:]
            side = np.where(both, d, np.inf)
        else:
            side = d
        pad = [(0, 0), (0, 0)]
        pad[axis] = (1, 1)
        side = np.pad(side, pad, constant_values=np.inf)
        before = side[:-2, :] if axis == 0 else side[:, :-2]
        after = side[2:, :] if axis == 0 else side[:, 2:]
        near = footprint[:-1, :] if axis == 0 else footprint[:, :-1]
        far = footprint[1:, :] if axis == 0 else footprint[:, 1:]
        fp = np.minimum(near, far)
        steady = d <= ratio * np.minimum(before, after)
        out.append((d > max_slope * fp) & (~steady | (d > max_steep * fp)))
    return tuple(out)


def rim_depth(depth, f, mask, max_slope=12.0, ratio=2.0, max_steep=60.0):
    """``depth`` with each surface reaching its own outline: where the last pixel of a
    surface along a row or column (the next pixel out is off the mask, or across a
    :func:`depth_jumps` jump) is itself cut off by a jump *away from* the camera, it is
    brought forward to continue the step before it: at most ``ratio`` times that step
    (and ``max_steep`` footprints), which is never a jump -- a rim keeps its slope, a
    flat surface's flying pixel lands on the surface.

    Such a pixel is a grazing rim (a sphere's or a torus's limb: the depth's last step
    there is the steepest of a steady run and, measured at pixel centres, often more than
    twice the one before) or a flying pixel (depth blended with what lies behind the
    edge).  Either way it is the object's -- the mask says so -- and cut off, the
    outline stops a pixel short of the mask's edge; brought forward, the surface reaches
    the edge while no pixel floats between two surfaces.  Only ever moves depth toward
    the camera, only at such last pixels; a jump between two surfaces that both go on
    (an occlusion inside the object) is left as it is.  Thresholds as
    :func:`depth_jumps`; looks at the jumps' pixels only (few)."""
    depth = np.asarray(depth)
    h, w = depth.shape
    z = np.asarray(depth, np.float64)
    limit = np.full(z.shape, np.inf)
    jumps = depth_jumps(depth, f, max_slope, mask, ratio, max_steep)
    for axis, jump in enumerate(jumps):
        n = (h, w)[axis]
        a = np.nonzero(jump)
        b = (a[0] + 1, a[1]) if axis == 0 else (a[0], a[1] + 1)
        farther = z[b] > z[a]
        p = tuple(np.where(farther, b[i], a[i]) for i in range(2))  # the far pixel
        q = tuple(np.where(farther, a[i], b[i]) for i in range(2))
        k = np.where(farther, 1, -1)  # from q to p along the axis
        o_at, r_at = p[axis] + k, q[axis] - k  # the next pixel out, the one before q
        on_o, on_r = (o_at >= 0) & (o_at < n), (r_at >= 0) & (r_at < n)
        o, r, step_out = list(p), list(q), list(p)
        o[axis], r[axis] = np.clip(o_at, 0, n - 1), np.clip(r_at, 0, n - 1)
        step_out[axis] = np.clip(np.minimum(p[axis], o_at), 0, n - 2)  # p -> o in ``jump``
        o, r, step_out = tuple(o), tuple(r), tuple(step_out)
        last = on_o & (~mask[o] | jump[step_out])
        before = np.where(on_r & mask[r], np.abs(z[q] - z[r]), np.inf)
        steady = np.minimum(ratio * before, max_steep * z[q] / f)  # never a jump
        rim = mask[p] & mask[q] & last & (z[p] - z[q] > steady)
        np.minimum.at(limit, (p[0][rim], p[1][rim]), (z[q] + 0.99 * steady)[rim])
    if not np.isfinite(limit).any():
        return depth
    return np.minimum(z, limit).astype(depth.dtype)


def depth_edges(depth, f, max_slope=12.0, mask=None, ratio=2.0, max_steep=60.0):
    """True at both pixels of every :func:`depth_jumps` step (so no surface made of
    pixels bridges the jump)."""
    down, right = depth_jumps(depth, f, max_slope, mask, ratio, max_steep)
    edge = np.zeros(depth.shape, bool)
    edge[:-1, :] |= down
    edge[1:, :] |= down
    edge[:, :-1] |= right
    edge[:, 1:] |= right
    return edge


def depth_outliers(depth, mask, f, size=5, k=6.0, return_median=False, where=None):
    """True where a pixel's depth stands out from its neighbourhood's median by more
    than ``k`` robust deviations (and a few pixel footprints): statistical outlier
    removal done on the image grid, where neighbours are free, instead of a k-d tree.
    With ``return_median``, also the depth with the median in place of each pixel's
    (where computed).  Computed at the pixels of ``where`` (default: the mask and the
    ring of pixels around it, all that the meshers look at), False elsewhere.

    Where the surface is steep (a sphere's limb, a side seen at a grazing angle) a true
    pixel can differ from the median by a few of its steps: the bar is also at least
    ``3 x`` the neighbourhood's median step, which a lone spike does not raise (its own
    large steps are few in the window) but a steep surface does."""
    if where is None:
        where = ndimage.binary_dilation(mask, np.ones((3, 3), bool))
    ys, xs = np.nonzero(where)
    z = depth[ys, xs]
    med = window_median(depth, ys, xs, size)
    dev = np.abs(z - med)
    inside = dev[mask[ys, xs]]
    spread = 1.4826 * np.median(inside) if inside.size else 0.0
    # the slope's bar only matters where the others are passed: few pixels
    cand = np.flatnonzero(dev > np.maximum(k * spread, 3.0 * z / f))
    step = np.zeros_like(depth)
    step[:, :-1] = np.abs(np.diff(depth, axis=1))
    step[:-1, :] = np.maximum(step[:-1, :], np.abs(np.diff(depth, axis=0)))
    slope = window_median(step, ys[cand], xs[cand], size)
    out = np.zeros(depth.shape, bool)
    out[ys[cand], xs[cand]] = dev[cand] > 3.0 * slope
    if not return_median:
        return out
    median = depth.copy()
    median[ys, xs] = med
    return out, median


def window_median(image, ys, xs, size=5, chunk=1 << 16):
    """The median of the ``size`` x ``size`` window around each pixel ``(ys, xs)`` of
    ``image``, the border repeated (``scipy.ndimage.median_filter(mode="nearest")``'s
    values at those pixels, without filtering the whole image)."""
    r = size // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(image, r, mode="edge"),
                                                       (size, size))
    mid = size * size // 2
    out = np.empty(len(ys), image.dtype)
    for i in range(0, len(ys), chunk):  # bounded memory on large images
        v = windows[ys[i:i + chunk], xs[i:i + chunk]].reshape(-1, size * size)
        out[i:i + chunk] = np.partition(v, mid, axis=1)[:, mid]
    return out


def sample_stride(mask, octree_depth):
    """Grid stride for Poisson input.  Poisson's time grows with the number of points,
    and about one point per octree cell on the surface is all it can use: keep at most
    half as many points as a depth-``octree_depth`` octree has cells across a face."""
    budget = 0.5 * 4 ** octree_depth
    return max(1, int(np.ceil(np.sqrt(np.count_nonzero(mask) / budget))))
