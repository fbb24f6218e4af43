"""One closed surface from registered views: the visual hull bounds it, plane-sweep depth
maps carve what the hull fills (a cup's inside, a concave corner), and the fused field's
zero level is the mesh (:mod:`hull`, :mod:`stereo`, :mod:`fusion`).
"""

import numpy as np
from PIL import Image
from scipy import ndimage

from . import fusion, hull, stereo
from .cameras import apply

#: voxels along the object's longest side
VOXELS = 128
#: the depth maps' working size (longer side, pixels)
STEREO_SIZE = 400


def _resize(rgb, mask, size):
    h, w = mask.shape
    s = min(1.0, size / max(h, w))
    if s >= 1.0:
        return rgb, mask, (w, h)
    wh = (max(1, round(w * s)), max(1, round(h * s)))
    small = np.asarray(Image.fromarray(rgb).resize(wh, Image.LANCZOS))
    m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(wh, Image.BILINEAR))
    return small, m >= 128, wh


def hull_range(mesh_v, mesh_f, cam, shape):
    """Camera z where each pixel's ray first enters and last leaves the hull mesh (NaN
    where it misses)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(mesh_v.astype(np.float32)),
                        o3d.core.Tensor(mesh_f.astype(np.uint32)))
    d = cam.rays(shape)
    c = cam.centre
    far = 4.0 * float(np.linalg.norm(mesh_v - c, axis=1).max())
    first = scene.cast_rays(o3d.core.Tensor(np.hstack(
        [np.broadcast_to(c, d.shape), d]).astype(np.float32)))["t_hit"].numpy()
    back = scene.cast_rays(o3d.core.Tensor(np.hstack(
        [c + d * far, -d]).astype(np.float32)))["t_hit"].numpy()
    cos = d @ cam.R[2]  # distance along the ray -> camera z
    near = np.where(np.isfinite(first), first * cos, np.nan)
    last = np.where(np.isfinite(back), (far - back) * cos, np.nan)
    return near.reshape(shape).astype(np.float32), last.reshape(shape).astype(np.float32)


def ground(cameras, depths, share=0.002):
    """``(up, height)``: the cameras' mean up vector and the height of the lowest surface
    the depth maps saw (a low percentile: a stray depth does not count), or None."""
    up = -np.mean([c.R[1] for c in cameras], axis=0)
    if np.linalg.norm(up) < 0.5:  # no common up: the photos were not taken upright
        return None
    up /= np.linalg.norm(up)
    heights = []
    for cam, d in zip(cameras, depths):
        v, u = np.nonzero(np.isfinite(d))
        if not len(u):
            continue
        x = np.stack([u + 0.5, v + 0.5, np.ones(len(u))], 1)
        x = apply(np.linalg.inv(cam.K), x) * d[v, u][:, None]
        heights.append(apply(cam.R.T, x - cam.t) @ up)
    if not heights:
        return None
    return up, float(np.quantile(np.concatenate(heights), share))


def view_depth(cameras, grays, hull_mesh, index, valid):
    """View ``index``'s depth map and score (:func:`stereo.depth_map`) between where its
    rays enter and leave the hull mesh: one view's work, here or on a Ray actor."""
    near, far = hull_range(*hull_mesh, cameras[index], grays[index].shape)
    return stereo.depth_map(index, cameras, grays, near, far, valid)


def reconstruct(cameras, images, masks, reporter, each, voxels=VOXELS, target_faces=None):
    """``cameras`` (list of :class:`cameras.Camera` for ``images``' size), ``images``
    (uint8 HxWx3), ``masks`` (bool) -> (vertices, triangles, info) in the cameras' world.
    ``each``: the runner of the per-view depth maps (:mod:`views_each`: here or on Ray)."""
    n = len(cameras)
    small = [_resize(im, m, STEREO_SIZE) for im, m in zip(images, masks)]
    cams = [c.scaled(wh) for c, (_, _, wh) in zip(cameras, small)]
    dist = [hull.mask_distance(ndimage.binary_dilation(m)) for _, m, _ in small]
    tolerance = n // 15
    reporter.update(0.02, "Carving the silhouettes")
    box = hull.object_box(cams, dist, tolerance)
    if box is None:
        return None
    grid = hull.Grid.around(*box, voxels)
    coarse = hull.Grid(grid.origin, grid.origin + grid.step * (np.array(grid.shape) - 1),
                       grid.step * 2)
    hc = hull.hull_distance(coarse.points(), cams, dist, tolerance).reshape(coarse.shape)
    hc = np.minimum(hc, 4 * coarse.step)  # (unseen: far outside, finite for interpolation)
    fine = ndimage.map_coordinates(hc, np.indices(grid.shape).reshape(3, -1) / 2.0, order=1,
                                   mode="nearest")
    hv, hf = fusion.marching_cubes(fine, grid)
    grays = [stereo.gray(im) for im, _, _ in small]
    finished = [0]

    def done(_):
        finished[0] += 1
        reporter.update(0.05 + 0.75 * finished[0] / n, f"Matching the photos "
                        f"({finished[0]}/{n})")

    reporter.update(0.05, f"Matching the photos (0/{n})")
    maps = each("depth", [(i, ndimage.binary_erosion(small[i][1])) for i in range(n)], done,
                shared=(cams, grays, (hv, hf)))
    depths, scores = [d for d, _ in maps], [s for _, s in maps]
    reporter.update(0.8, "Checking the depth maps against each other")
    depths = [stereo.consistent(i, cams, depths, 2.0 * grid.step) for i in range(n)]
    reporter.update(0.82, "Fusing the depth maps")
    tau = fusion.TRUNCATION * grid.step
    pts = grid.points()
    field = fusion.fuse(pts, fine.reshape(-1), cams, depths, scores, tau)
    floor = ground(cams, depths)
    if floor is not None:  # nothing below the lowest surface a view saw (it stood there)
        up, low = floor
        height = apply(up[None], pts)[:, 0]
        field = np.maximum(field, np.clip((low - tau - height) / tau, -1.0, 1.0))
    reporter.update(0.92, "Extracting the surface")
    verts, faces, closed = fusion.closed_mesh(field, grid, target_faces)
    covered = [float(np.isfinite(d).sum()) / max(1, m.sum())
               for d, (_, m, _) in zip(depths, small)]
    info = {"voxels": list(grid.shape), "voxel_size": grid.step,
            "stereo_size": list(small[0][2]), "depth_coverage": round(float(np.mean(covered)),
                                                                       4)}
    return verts, faces, closed, info, (depths, cams)
