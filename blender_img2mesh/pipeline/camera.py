"""The pinhole camera: field of view -> focal length, depth image -> 3D points, normals.

Camera frame (OpenCV's): x right, y down, z forward (away from the camera), in the units
of the depth.  Pixel ``(u, v)``'s centre is at ``u + 0.5, v + 0.5``; the principal point
is the image centre.  ``--fov`` is measured across the image's *longer* side, as Blender's
camera does with sensor fit "Auto", so a Blender camera with that angle lines up.
"""

import math

import numpy as np
from scipy import ndimage

DEFAULT_FOV = 50.0  # degrees across the longer side: a normal lens (~39 mm full frame)


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


def depth_edges(depth, f, max_slope=12.0):
    """True where depth jumps between neighbouring pixels (occlusion edges, "flying
    pixels"): a step steeper than ``max_slope`` times the pixel's footprint."""
    footprint = depth / f
    step = np.zeros_like(depth)
    dx = np.abs(np.diff(depth, axis=1))
    dy = np.abs(np.diff(depth, axis=0))
    step[:, 1:] = np.maximum(step[:, 1:], dx)
    step[:, :-1] = np.maximum(step[:, :-1], dx)
    step[1:, :] = np.maximum(step[1:, :], dy)
    step[:-1, :] = np.maximum(step[:-1, :], dy)
    return step > max_slope * footprint


def depth_outliers(depth, mask, f, size=5, k=6.0):
    """True where a pixel's depth stands out from its neighbourhood's median by more
    than ``k`` robust deviations (and a few pixel footprints): statistical outlier
    removal done on the image grid, where neighbours are free, instead of a k-d tree."""
    med = ndimage.median_filter(depth, size=size, mode="nearest")
    dev = np.abs(depth - med)
    inside = dev[mask]
    spread = 1.4826 * np.median(inside) if inside.size else 0.0
    return dev > np.maximum(k * spread, 3.0 * depth / f)


def sample_stride(mask, octree_depth):
    """Grid stride for Poisson input.  Poisson's time grows with the number of points,
    and about one point per octree cell on the surface is all it can use: keep at most
    half as many points as a depth-``octree_depth`` octree has cells across a face."""
    budget = 0.5 * 4 ** octree_depth
    return max(1, int(np.ceil(np.sqrt(np.count_nonzero(mask) / budget))))
