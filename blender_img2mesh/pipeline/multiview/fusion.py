"""Evidence fused on a voxel grid into one closed surface.

The field is a truncated signed distance (positive outside, in units of the truncation
``tau``): each view's depth map says how far in front of (or just behind) its surface a
voxel is; the views' values are averaged, weighted by their photo-consistency scores.
Voxels no depth map reaches (deep inside, or where no view found texture) are solid, and
the visual hull bounds everything (the field is at least the hull's distance).  Marching
cubes on the padded grid gives a closed, manifold mesh; its largest part is kept, lightly
smoothed (Taubin: no shrinking), at about the faces asked for by resampling the field on
a coarser grid (:func:`closed_mesh`), its vertices then moved onto the fine field's zero
level (:func:`snap`).
"""

import types

import numpy as np
from scipy import ndimage

from .hull import in_image

#: the truncation distance in voxels
TRUNCATION = 3.0
#: the jitter that breaks ties in the field before marching cubes
TIE_BREAK = 1e-5
#: Newton steps that move a coarser mesh's vertices onto the fine field's zero level
#: (:func:`snap`)
SNAP_STEPS = 1
#: threads that sum the views' distances (:func:`fuse`)
THREADS = 2


def fuse(points, hull, cameras, depths, scores, tau):
    """The fused field at ``points`` (N, 3), given the hull's distance there.  The views
    are summed in :data:`THREADS` groups at once (NumPy lets go of the GIL in its loops:
    2.0 s -> 1.2 s for the benchmark's box on 2 cores)."""
    from concurrent.futures import ThreadPoolExecutor

    near = hull < tau  # only voxels near or inside the hull matter
    idx = np.flatnonzero(near)
    p = points[idx].astype(np.float32)  # (pixels to 1e-4: plenty, and half the memory)
    views = list(zip(cameras, depths, scores))
    groups = [views[k::THREADS] for k in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        parts = list(pool.map(lambda group: _fuse_views(p, group, tau), groups))
    acc = np.zeros(len(points), np.float32)
    wsum = np.zeros(len(points), np.float32)
    acc[idx] = sum(a for a, _ in parts)
    wsum[idx] = sum(w for _, w in parts)
    field = np.where(wsum > 0, acc / np.maximum(wsum, 1e-9), -1.0)
    return np.maximum(field, np.minimum(hull / tau, 1.0)).astype(np.float32)


def _fuse_views(p, views, tau):
    """The weighted sum of ``views``' (camera, depth, score) truncated distances at ``p``,
    and the sum of their weights."""
    acc = np.zeros(len(p), np.float32)
    wsum = np.zeros(len(p), np.float32)
    for cam, depth, score in views:
        uv, z = cam.project(p)
        ok = in_image(uv, z, depth.shape)
        x = np.floor(uv[ok, 0]).astype(np.int64)
        y = np.floor(uv[ok, 1]).astype(np.int64)
        d = depth[y, x]
        sdf = (d - z[ok]) / tau
        use = np.isfinite(d) & (sdf > -1.0)
        sel = np.flatnonzero(ok)[use]
        weight = np.clip(score[y, x][use], 0.05, 1.0)
        acc[sel] += np.minimum(sdf[use], 1.0) * weight
        wsum[sel] += weight
    return acc, wsum


def marching_cubes(values, grid):
    """(vertices, triangles) of the field's zero level, closed (the grid is padded with
    outside) and with outward normals."""
    from skimage import measure

    vol = np.pad(values.reshape(grid.shape), 1, constant_values=1.0)
    # ties (the field is clipped to +-1) make skimage's Lewiner cases disagree between
    # neighbouring cubes: holes and edges on one triangle.  A fixed, tiny jitter breaks them.
    vol = vol + TIE_BREAK * np.random.default_rng(0).uniform(-1.0, 1.0, vol.shape)
    verts, faces, _, _ = measure.marching_cubes(vol, 0.0, spacing=(grid.step,) * 3)
    verts = verts + grid.origin - grid.step
    faces = faces.astype(np.int64)
    if signed_volume(verts, faces) < 0:
        faces = faces[:, ::-1]
    return verts, faces


def closed_mesh(field, grid, target_faces=None):
    """(vertices, triangles, closed) of the field's zero level on ``grid``: one closed,
    manifold part of about ``target_faces`` faces.  The field is resampled on a coarser
    grid whose marching cubes give about that many faces (closed by construction, and
    evenly spread: quadric decimation spends them on the noisiest parts and leaves
    smooth sides as a few long facets -- measured on the mug with its true cameras,
    F@1% 0.67 decimated, 0.80 resampled); quadric decimation of the full mesh only when
    no coarser grid gives a closed mesh, the full mesh when that fails too."""
    full = clean(*marching_cubes(field, grid))
    if not target_faces or len(full[1]) <= 1.5 * target_faces:
        return full
    factor = np.sqrt(target_faces / len(full[1]))
    for _ in range(4):
        values = ndimage.zoom(field.reshape(grid.shape), factor, order=1, mode="nearest")
        step = grid.step * (np.array(grid.shape) - 1) / np.maximum(np.array(values.shape) - 1, 1)
        coarse = types.SimpleNamespace(shape=values.shape, origin=grid.origin,
                                       step=float(step.max()))
        v, f = marching_cubes(values, coarse)
        v = grid.origin + (v - grid.origin) * (step / coarse.step)  # (per-axis steps)
        mesh = clean(v, f)
        if mesh[2] and len(mesh[1]) <= 1.5 * target_faces:
            return snap(mesh[0], field, grid, float(step.max())), mesh[1], mesh[2]
        factor *= 0.8
    small = decimate(full, target_faces)
    return small if small[2] or not full[2] else full


def snap(verts, field, grid, reach, steps=None):
    """``verts`` moved onto the zero level of ``field`` (on ``grid``): Newton steps along
    its gradient (trilinear), each at most ``reach`` (the coarse grid's step).  The
    coarser grid's surface rounds off what is sharper than its step -- a cup's rim, a
    box's edges -- and the held-out views then miss a ring of the object's outline (the
    mug with its true cameras: 60-80% of the squared error was there); on the fine grid's
    surface, the vertices keep it."""
    steps = SNAP_STEPS if steps is None else steps
    values = field.reshape(grid.shape)
    gradient = np.gradient(values, grid.step)
    verts = np.asarray(verts, np.float64).copy()
    for _ in range(steps):
        at = ((verts - grid.origin) / grid.step).T
        f = ndimage.map_coordinates(values, at, order=1, mode="nearest")
        g = np.stack([ndimage.map_coordinates(gi, at, order=1, mode="nearest")
                      for gi in gradient], 1)
        norm2 = (g ** 2).sum(1)
        move = np.where(norm2 > 1e-12, f / np.maximum(norm2, 1e-12), 0.0)[:, None] * g
        length = np.linalg.norm(move, axis=1, keepdims=True)
        verts -= move * np.minimum(1.0, reach / np.maximum(length, 1e-12))
    return verts


def signed_volume(verts, faces):
    a, b, c = (verts[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _o3d(verts, faces):
    import open3d as o3d

    return o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(verts, float)),
                                     o3d.utility.Vector3iVector(np.asarray(faces, np.int32)))


def _out(mesh):
    return (np.asarray(mesh.vertices), np.asarray(mesh.triangles, np.int64), is_closed(mesh))


def clean(verts, faces, smooth=10):
    """The largest connected part, Taubin-smoothed (no shrinking).  Returns (vertices,
    triangles, closed)."""
    mesh = _o3d(verts, faces)
    extent = float(np.ptp(np.asarray(verts), axis=0).max()) if len(verts) else 1.0
    _weld(mesh, extent)
    clusters, counts, _ = mesh.cluster_connected_triangles()
    clusters, counts = np.asarray(clusters), np.asarray(counts)
    if len(counts) > 1:
        mesh.remove_triangles_by_mask(clusters != int(np.argmax(counts)))
        mesh.remove_unreferenced_vertices()
    if smooth:
        mesh = mesh.filter_smooth_taubin(number_of_iterations=smooth)
        _weld(mesh, extent)
    return _out(mesh)


def _weld(mesh, extent):
    """Vertices (all but) at one place welded, as a file's float32 would, and the
    triangles that leaves without area removed (else loose parts in the written file):
    marching cubes makes them where the level passes through a grid point, smoothing
    where a thin triangle flattens."""
    mesh.merge_close_vertices(1e-6 * extent)
    mesh.remove_degenerate_triangles()
    mesh.remove_unreferenced_vertices()


def decimate(surface, target_faces):
    """``surface`` (vertices, triangles, closed) decimated to about ``target_faces``
    (quadric error); (vertices, triangles, closed) -- check ``closed``."""
    small = _o3d(*surface[:2]).simplify_quadric_decimation(int(target_faces))
    small.remove_degenerate_triangles()
    small.remove_unreferenced_vertices()
    return _out(small)


def welded_closed(verts, faces):
    """:func:`is_closed` for a mesh whose vertices are split along texture seams (the
    copies of a vertex at one position are one vertex)."""
    mesh = _o3d(verts, faces)
    mesh.remove_duplicated_vertices()
    return is_closed(mesh)


def is_closed(mesh):
    """Watertight and manifold: every edge on exactly two triangles, every vertex's fan
    one disc, consistently oriented (open3d's checks; its self-intersection test is
    quadratic and left out)."""
    return bool(len(mesh.triangles) and mesh.is_edge_manifold(allow_boundary_edges=False)
                and mesh.is_vertex_manifold() and mesh.is_orientable())
