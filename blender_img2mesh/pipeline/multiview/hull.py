"""The silhouettes' evidence: where the object can be (the visual hull), as a signed
distance on a voxel grid.

Each view's mask gives a signed distance in pixels to its outline (positive outside);
at a voxel's depth ``z`` that is ``px * z / f`` world units.  The hull's distance is the
largest over the views (a voxel is outside when any view sees background there), with a
tolerance: the ``tolerance`` largest are dropped, so one bad mask does not cut the
object.  Views that do not see a voxel (outside their image) give no evidence.
"""

import numpy as np
from scipy import ndimage


class Grid:
    """A box of ``shape`` voxels of side ``step`` whose first voxel's centre is ``origin``."""

    def __init__(self, lo, hi, step):
        self.step = float(step)
        self.shape = tuple(int(np.ceil(v)) + 1 for v in (np.asarray(hi) - lo) / step)
        self.origin = np.asarray(lo, np.float64)

    def points(self):
        axes = [self.origin[i] + self.step * np.arange(self.shape[i]) for i in range(3)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)

    @classmethod
    def around(cls, lo, hi, voxels, pad=2):
        step = float(np.max(np.asarray(hi) - lo)) / voxels
        return cls(np.asarray(lo) - pad * step, np.asarray(hi) + pad * step, step)


def mask_distance(mask):
    """Signed distance in pixels to the mask's outline: positive outside, negative inside."""
    outside = ndimage.distance_transform_edt(~mask)
    inside = ndimage.distance_transform_edt(mask)
    return (outside - inside + np.where(mask, 0.5, -0.5)).astype(np.float32)


def _sample(image, uv):
    """Nearest pixel of ``image`` at continuous positions ``uv`` (centres at i + 0.5)."""
    h, w = image.shape[:2]
    x = np.clip(np.floor(uv[:, 0]).astype(np.int64), 0, w - 1)
    y = np.clip(np.floor(uv[:, 1]).astype(np.int64), 0, h - 1)
    return image[y, x]


def in_image(uv, z, shape):
    h, w = shape
    return (z > 1e-9) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)


def hull_distance(points, cameras, distances, tolerance=0, min_seen=0.5, slack=0.0):
    """The hull's signed distance (world units, positive outside) at ``points`` (N, 3);
    ``distances``: :func:`mask_distance` of each camera's mask (same order).  A point
    seen by fewer than ``min_seen`` of the views is outside (+inf).  With ``tolerance``,
    the views' ``tolerance`` largest distances are outvoted, but by no more than
    ``slack``: a bad mask cuts at most that deep, and a part only one or two views
    carve (a flat side seen edge-on) is still carved to within it."""
    n = len(cameras)
    values = np.full((n, len(points)), -np.inf, np.float32)
    seen = np.zeros(len(points), np.int32)
    for k, (cam, dist) in enumerate(zip(cameras, distances)):
        uv, z = cam.project(points)
        ok = in_image(uv, z, dist.shape)
        seen += ok
        f = 0.5 * (cam.K[0, 0] + cam.K[1, 1])
        values[k, ok] = _sample(dist, uv[ok]) * z[ok] / f
    if tolerance:
        values = np.sort(values, axis=0)
        out = np.minimum(values[n - 1], values[n - 1 - tolerance] + slack)
    else:
        out = values.max(axis=0)
    out[seen < max(1, min_seen * n)] = np.inf
    return out


def initial_box(cameras):
    """A cube that holds everything the cameras look at: centred on the point nearest to
    all optical axes, as wide as the median view's frustum there."""
    A, b = np.zeros((3, 3)), np.zeros(3)
    for cam in cameras:
        d = cam.R[2]
        P = np.eye(3) - np.outer(d, d)
        A += P
        b += P @ cam.centre
    centre = np.linalg.lstsq(A, b, rcond=None)[0]
    half = []
    for cam in cameras:
        dist = float(cam.R[2] @ (centre - cam.centre))
        w, h = cam.size
        half.append(dist * 0.5 * max(w / cam.K[0, 0], h / cam.K[1, 1]))
    r = float(np.median(half))
    return centre - r, centre + r


def object_box(cameras, distances, tolerance, voxels=48):
    """The bounding box of the coarse hull (a ``voxels`` grid in :func:`initial_box`)."""
    lo, hi = initial_box(cameras)
    grid = Grid(lo, hi, float(np.max(hi - lo)) / voxels)
    pts = grid.points()
    inside = hull_distance(pts, cameras, distances, tolerance) <= grid.step
    if not inside.any():
        return None
    sel = pts[inside]
    return sel.min(axis=0) - grid.step, sel.max(axis=0) + grid.step


def agreement(cameras, masks, size=160, voxels=40):
    """How well cameras and silhouettes agree (0..1): the mean over the views of the IoU
    between each mask and the coarse visual hull of all of them seen through its camera
    (at ``size`` pixels, a pixel's slack).  Right cameras give ~0.9; a camera that is wrong
    cuts the hull where the other views see the object, and the score drops."""
    scale = min(1.0, size / max(masks[0].shape))
    small = [m if scale == 1.0 else
             ndimage.zoom(m.astype(np.float32), scale, order=1) >= 0.5 for m in masks]
    cams = [c.scaled(m.shape[::-1]) for c, m in zip(cameras, small)]
    dist = [mask_distance(m) for m in small]
    box = object_box(cams, dist, 0, voxels)
    if box is None:
        return 0.0
    grid = Grid.around(*box, voxels)
    pts = grid.points()
    pts = pts[hull_distance(pts, cams, dist) <= 0.5 * grid.step]
    if not len(pts):
        return 0.0
    scores = []
    for cam, mask in zip(cams, small):
        uv, z = cam.project(pts)
        ok = in_image(uv, z, mask.shape)
        seen = np.zeros(mask.shape, bool)
        seen[np.floor(uv[ok, 1]).astype(np.int64), np.floor(uv[ok, 0]).astype(np.int64)] = True
        seen = ndimage.binary_closing(ndimage.binary_dilation(seen), iterations=2)
        wide = ndimage.binary_dilation(mask)
        inter = np.count_nonzero(seen & wide)
        scores.append(inter / max(1, np.count_nonzero(seen | mask)))
    return float(np.mean(scores))
