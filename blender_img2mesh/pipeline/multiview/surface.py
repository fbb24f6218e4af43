"""One closed surface from registered views: the visual hull bounds it, plane-sweep depth
maps carve what the hull fills (a cup's inside, a concave corner), and the fused field's
zero level is the mesh (:mod:`hull`, :mod:`stereo`, :mod:`fusion`).

Where the evidence ends: a gap in a depth map that measured depths enclose inside a
concavity (a cup's dark bottom) is filled smoothly, with a small weight
(:func:`stereo.fill_enclosed`); below the lowest part of the hull a camera sees squarely
is the ground the object stood on (:func:`ground`: photos from above never see the
underside, and the hull hangs below it as a wedge).  With a depth model, what is still
empty takes the views' learned depth aligned to the measured ones, with a small weight
(:mod:`learned`).
"""

import numpy as np
from PIL import Image
from scipy import ndimage

from ..output.render import raycasting_scene
from . import fusion, hull, learned, stereo
from ..progress import counter
from .cameras import apply

#: voxels along the object's longest side
VOXELS = 128
#: the depth maps' working size (longer side, pixels)
STEREO_SIZE = 400
#: the share of the views whose silhouettes may be ignored at a point (a bad mask or
#: camera does not cut the object), and the masks' widening (pixels at STEREO_SIZE)
TOLERANCE = 1 / 15
WIDEN = 1
#: ... by no more than this (voxels): :func:`hull.hull_distance`
SLACK = 2.0
#: a gap in a depth map is filled when its measured edge lies this far (voxels) behind
#: the hull (:func:`stereo.fill_enclosed`)
FILL_MARGIN = 4.0


def _resize(rgb, mask, size):
    h, w = mask.shape
    s = min(1.0, size / max(h, w))
    if s >= 1.0:
        return rgb, mask, (w, h)
    wh = (max(1, round(w * s)), max(1, round(h * s)))
    small = np.asarray(Image.fromarray(rgb).resize(wh, Image.LANCZOS))
    m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(wh, Image.BILINEAR))
    return small, m >= 128, wh


def warm_up():
    """Import what this stage needs (torch, open3d: 1.8 s of a fresh process here), on
    a core that is free meanwhile (:func:`colmap.recover`'s ``meanwhile``).  A missing
    one is left for the stage itself to report."""
    try:
        import open3d  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        pass


def hull_range(mesh_v, mesh_f, cam, shape, within=None):
    """Camera z where each pixel's ray first enters and last leaves the hull mesh (NaN
    where it misses, and outside ``within``, a bool (H, W) of the pixels wanted: the
    view's mask casts a third of the rays of the whole image)."""
    import open3d as o3d

    scene = raycasting_scene(mesh_v, mesh_f)
    wanted = np.ones(shape, bool) if within is None else within
    d = cam.rays(shape)[wanted.ravel()]
    c = cam.centre
    far = 4.0 * float(np.linalg.norm(mesh_v - c, axis=1).max())
    first = scene.cast_rays(o3d.core.Tensor(np.hstack(
        [np.broadcast_to(c, d.shape), d]).astype(np.float32)))["t_hit"].numpy()
    back = scene.cast_rays(o3d.core.Tensor(np.hstack(
        [c + d * far, -d]).astype(np.float32)))["t_hit"].numpy()
    cos = d @ cam.R[2]  # distance along the ray -> camera z
    near = np.full(shape, np.nan, np.float32)
    last = np.full(shape, np.nan, np.float32)
    near[wanted] = np.where(np.isfinite(first), first * cos, np.nan)
    last[wanted] = np.where(np.isfinite(back), (far - back) * cos, np.nan)
    return near, last


def visible_vertices(verts, faces, cameras, min_cosine=0.3):
    """Which vertices of the mesh some camera sees: inside its image, first along the ray
    from its centre, and facing it (cosine above ``min_cosine``: not grazing)."""
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(verts),
                                     o3d.utility.Vector3iVector(faces.astype(np.int32)))
    normals = np.asarray(mesh.compute_vertex_normals().vertex_normals)
    scene = raycasting_scene(verts, faces)
    seen = np.zeros(len(verts), bool)
    for cam in cameras:
        d = verts - cam.centre
        dist = np.linalg.norm(d, axis=1)
        d /= np.maximum(dist, 1e-12)[:, None]
        uv, z = cam.project(verts)
        facing = -np.einsum("ij,ij->i", normals, d) > min_cosine
        todo = np.flatnonzero(facing & hull.in_image(uv, z, cam.size[::-1]) & ~seen)
        rays = np.hstack([np.broadcast_to(cam.centre, (len(todo), 3)), d[todo]])
        hit = scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))["t_hit"].numpy()
        seen[todo[hit >= dist[todo] - 1e-3 * dist.max()]] = True
    return seen


def ground(cameras, hull_mesh, share=0.002):
    """``(up, height)``: the cameras' mean up vector and the height of the lowest part of
    the visual hull that a camera sees squarely (a low percentile), or None.  Photos
    taken from above never see the object's underside, and the hull hangs below it as
    a wedge no camera faces; where the hull is seen it is tight (measured on the four
    benchmark sets with their true cameras: within 1% of the bounding box's diagonal of
    the true bottom; the depth maps' lowest points were up to 5% above it: they thin out
    at the silhouettes' lower edges)."""
    up = -np.mean([c.R[1] for c in cameras], axis=0)
    if np.linalg.norm(up) < 0.5:  # no common up: the photos were not taken upright
        return None
    up /= np.linalg.norm(up)
    verts, faces = hull_mesh
    seen = visible_vertices(verts, faces, cameras)
    if not seen.any():
        return None
    return up, float(np.quantile(apply(up[None], verts[seen])[:, 0], share))


def view_depth(cameras, grays, hull_mesh, index, valid):
    """View ``index``'s depth map and score (:func:`stereo.depth_map`) between where its
    rays enter and leave the hull mesh, and where they enter and leave it (camera z): one
    view's work, here or on a Ray actor."""
    near, far = hull_range(*hull_mesh, cameras[index], grays[index].shape, valid)
    return (*stereo.depth_map(index, cameras, grays, near, far, valid), near, far)


def reconstruct(cameras, images, masks, reporter, each, voxels=VOXELS, target_faces=None,
                learned_depth=None):
    """``cameras`` (list of :class:`cameras.Camera` for ``images``' size), ``images``
    (uint8 HxWx3), ``masks`` (bool) -> (vertices, triangles, info) in the cameras' world.
    ``each``: the runner of the per-view depth maps (:mod:`views_each`: here or on Ray);
    ``learned_depth``: a :class:`learned.ViewsDepth` of the same views, or None (the info's
    ``learned_views`` says how many were aligned)."""
    n = len(cameras)
    small = [_resize(im, m, STEREO_SIZE) for im, m in zip(images, masks)]
    cams = [c.scaled(wh) for c, (_, _, wh) in zip(cameras, small)]
    dist = [hull.mask_distance(ndimage.binary_dilation(m, iterations=WIDEN) if WIDEN else m)
            for _, m, _ in small]
    tolerance = int(n * TOLERANCE)
    reporter.update(0.02, "Carving the silhouettes")
    box = hull.object_box(cams, dist, tolerance)
    if box is None:
        return None
    grid = hull.Grid.around(*box, voxels)
    coarse = hull.Grid(grid.origin, grid.origin + grid.step * (np.array(grid.shape) - 1),
                       grid.step * 2)
    hc = hull.hull_distance(coarse.points(), cams, dist, tolerance,
                            slack=SLACK * grid.step).reshape(coarse.shape)
    hc = np.minimum(hc, 4 * coarse.step)  # (unseen: far outside, finite for interpolation)
    fine = ndimage.map_coordinates(hc, np.indices(grid.shape).reshape(3, -1) / 2.0, order=1,
                                   mode="nearest")
    hv, hf = fusion.marching_cubes(fine, grid)
    grays = [stereo.gray(im) for im, _, _ in small]
    done = counter(reporter, n, "Matching the photos ({k}/{n})", 0.05, 0.75)
    reporter.update(0.05, f"Matching the photos (0/{n})")
    valid = [ndimage.binary_erosion(m) for _, m, _ in small]
    maps = each("depth", list(enumerate(valid)), done, shared=(cams, grays, (hv, hf)))
    depths, scores, nears, fars = (list(x) for x in zip(*maps))
    reporter.update(0.8, "Checking the depth maps against each other")
    depths = [stereo.consistent(i, cams, depths, 2.0 * grid.step) for i in range(n)]
    checked = list(depths)
    for i in range(n):  # (after the check: filled depths are not measurements)
        depths[i], filled = stereo.fill_enclosed(depths[i], valid[i], nears[i],
                                                 FILL_MARGIN * grid.step)
        scores[i] = np.where(filled, stereo.FILLED_WEIGHT, scores[i])
    covered = [float(np.isfinite(d).sum()) / max(1, m.sum())  # (without learned depth)
               for d, (_, m, _) in zip(depths, small)]
    aligned = None
    if learned_depth is not None:  # (where the measured and filled depths leave gaps)
        reporter.update(0.81, "Aligning the learned depth to the measured one")
        aligned = learned.add_views(learned_depth, cams, valid, checked, depths, scores,
                                    nears, fars, learned.VISIBLE_VOXELS * grid.step)
    reporter.update(0.82, "Fusing the depth maps")
    tau = fusion.TRUNCATION * grid.step
    pts = grid.points()
    field = fusion.fuse(pts, fine.reshape(-1), cams, depths, scores, tau)
    floor = ground(cams, (hv, hf))
    if floor is not None:  # nothing below the ground the object stood on
        up, low = floor
        height = apply(up[None], pts)[:, 0]
        field = np.maximum(field, np.clip((low - height) / tau, -1.0, 1.0))
    reporter.update(0.92, "Extracting the surface")
    verts, faces, closed = fusion.closed_mesh(field, grid, target_faces)
    info = {"voxels": list(grid.shape), "voxel_size": grid.step,
            "stereo_size": list(small[0][2]), "depth_coverage": round(float(np.mean(covered)),
                                                                       4)}
    if aligned is not None:
        info["learned_views"] = aligned
    return verts, faces, closed, info, (depths, cams)
