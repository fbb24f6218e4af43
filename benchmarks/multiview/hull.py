"""The classical floor of the multi-view benchmark: a visual hull carved from the given
views' masks and their TRUE cameras, coloured from the views.

* carving: a voxel grid over the true bounding box grown by 10% of its diagonal (the only
  use of the truth besides the cameras), ``resolution`` voxels along the longest side;
  each voxel centre takes, per view, the mask's value there (bilinear on the mask blurred
  by one pixel, so the surface falls between voxels) and keeps the smallest; a voxel that
  projects outside a view's image is not carved by that view.  Marching cubes
  (``skimage.measure``) at 0.5 of that field, padded so the surface is closed.
* colour: each vertex from the view that sees it most frontally (visibility by ray casting
  the hull itself from the camera's centre; the photo bilinearly sampled).
"""

import os

import numpy as np
from scipy import ndimage

from .eval import centre, read_image


def carve(truth, resolution=192):
    """(vertices, triangles) of the visual hull in world coordinates."""
    from skimage import measure

    scene = truth["scene"]
    lo, hi = np.asarray(scene["bbox_min"]), np.asarray(scene["bbox_max"])
    pad = 0.1 * scene["diagonal"]
    lo, hi = lo - pad, hi + pad
    step = float((hi - lo).max()) / resolution
    shape = np.ceil((hi - lo) / step).astype(int) + 1
    axes = [lo[i] + step * np.arange(shape[i]) for i in range(3)]
    X = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    field = np.ones(len(X), np.float32)
    W, H = scene["width"], scene["height"]
    for name, cam in truth["cameras"].items():
        mask = read_image(os.path.join(truth["folder"], "masks", name)) > 127
        soft = ndimage.gaussian_filter(mask.astype(np.float32), 1.0)
        x = X @ cam["R"].T + cam["t"]
        uv = x[:, :2] / np.maximum(x[:, 2:3], 1e-12) * cam["K"][0, 0] + cam["K"][:2, 2]
        inside = (x[:, 2] > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & \
            (uv[:, 1] < H)
        # pixel (c, r) has its centre at (c + 0.5, r + 0.5)
        val = ndimage.map_coordinates(soft, [uv[inside, 1] - 0.5, uv[inside, 0] - 0.5],
                                      order=1, mode="nearest")
        field[inside] = np.minimum(field[inside], val)
    grid = np.pad(field.reshape(shape), 1)  # zero border: a closed surface
    V, T, _, _ = measure.marching_cubes(grid, 0.5, spacing=(step,) * 3)
    V = V - step + lo
    return V, orient_outward(V, T.astype(np.int64))


def orient_outward(V, T):
    """``T`` wound so that the signed volume is positive (normals outward)."""
    a, b, c = V[T[:, 0]], V[T[:, 1]], V[T[:, 2]]
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0
    return T if volume > 0 else T[:, ::-1].copy()


def vertex_normals(V, T):
    n = np.zeros_like(V)
    face = np.cross(V[T[:, 1]] - V[T[:, 0]], V[T[:, 2]] - V[T[:, 0]])
    for k in range(3):
        np.add.at(n, T[:, k], face)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def colour(V, T, truth):
    """Per-vertex sRGB colours (float 0..255) from the most frontal view that sees each
    vertex; vertices no view sees get the mean colour."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(np.asarray(V, np.float32), np.asarray(T, np.uint32))
    N = vertex_normals(V, T)
    W, H = truth["scene"]["width"], truth["scene"]["height"]
    eps = 2e-3 * truth["scene"]["diagonal"]
    best = np.full(len(V), -1.0)
    out = np.zeros((len(V), 3))
    for name, cam in truth["cameras"].items():
        c = centre(cam)
        d = V - c
        dist = np.linalg.norm(d, axis=1)
        d /= dist[:, None]
        cos = -np.einsum("ij,ij->i", d, N)
        x = V @ cam["R"].T + cam["t"]
        uv = x[:, :2] / np.maximum(x[:, 2:3], 1e-12) * cam["K"][0, 0] + cam["K"][:2, 2]
        ok = (cos > best) & (x[:, 2] > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < W) & \
            (uv[:, 1] >= 0) & (uv[:, 1] < H)
        rays = np.hstack([np.broadcast_to(c, d.shape), d]).astype(np.float32)[ok]
        hit = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
        idx = np.flatnonzero(ok)[hit >= dist[ok] - eps]
        photo = read_image(os.path.join(truth["folder"], "images", name))[..., :3]
        rows, cols = uv[idx, 1] - 0.5, uv[idx, 0] - 0.5
        out[idx] = np.stack([ndimage.map_coordinates(photo[..., k].astype(np.float32),
                                                     [rows, cols], order=1, mode="nearest")
                             for k in range(3)], axis=1)
        best[idx] = cos[idx]
    unseen = best < -0.5
    if unseen.any() and (~unseen).any():
        out[unseen] = out[~unseen].mean(0)
    return out
