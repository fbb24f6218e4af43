"""Depth -> surface: the depth grid triangulated directly, or Poisson reconstruction.

``grid`` (the default for an open back): the visible surface *is* the depth image, a
height field over the pixel grid, so its triangles are the pixel quads whose corners are
all on the object and not across a depth jump (where a jump runs diagonally, the half
quad on either side of it).  Every vertex is a measured point (nothing
smoothed, nothing invented, nothing to trim), and it costs milliseconds.

``poisson`` (needed for closed backs, optional for open): Poisson (open3d) always makes a
closed, smooth surface.  From a single view only the front is
known, so what Poisson invents must go:

* ``open``  -- keep only what the photo supports: vertices that reproject inside the
  object's mask *and* lie on the observed depth (within a tolerance).  The balloon that
  Poisson blows behind and around the front surface is cut away.
* ``flat``  -- the front plus a flat back at the far side of the object: a closed solid.
* ``mirror`` -- the front plus its mirror image about the object's far side: a closed,
  rounded solid, watertight.
"""

import numpy as np

from ..catalog import BACKS, MESHERS  # noqa: F401 -- this module's names
from . import open3d_import


def mesher_for(mesher, back):
    """``auto``: the grid for an open back, Poisson for a closed one."""
    if mesher == "auto":
        return "grid" if back == "open" else "poisson"
    return mesher


def grid_mesh(valid, cut=None):
    """Triangles over an HxW grid of vertices, numbered row-major over the True cells of
    ``valid``: two per quad with four valid corners, one per quad with three.  Wound
    counter-clockwise as seen from the camera of the camera frame (x right, y down, z
    forward), i.e. facing it.  ``cut``: ``(down, right)`` steps no triangle may span
    (:func:`camera.depth_jumps`): a quad with one on a side gets at most one triangle,
    of three corners joined by two uncut sides (where a jump runs diagonally, one corner
    is on the other surface: the other three still make their triangle, so neither
    surface stops a pixel short of the jump).  Returns (index of each valid pixel's
    vertex as an HxW array, -1 elsewhere; triangles Mx3)."""
    h, w = valid.shape
    idx = np.full((h, w), -1, np.int64)
    idx[valid] = np.arange(np.count_nonzero(valid))
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]  # a b / c d
    va, vb, vc, vd = a >= 0, b >= 0, c >= 0, d >= 0
    if cut is None:
        top = bottom = left = right = np.zeros((h - 1, w - 1), bool)
    else:
        down, across = cut
        top, bottom, left, right = across[:-1, :], across[1:, :], down[:, :-1], down[:, 1:]
    full = va & vb & vc & vd & ~(top | bottom | left | right)
    tris = [np.stack([a[full], c[full], b[full]], 1), np.stack([b[full], c[full], d[full]], 1)]
    taken = full.copy()  # one triangle per quad that is not full: no overlaps
    for corners, ok in (((a, c, b), va & vb & vc & ~top & ~left),
                        ((b, c, d), vb & vc & vd & ~bottom & ~right),
                        ((a, d, b), va & vb & vd & ~top & ~right),
                        ((a, c, d), va & vc & vd & ~left & ~bottom)):
        keep = ok & ~taken
        taken |= keep
        tris.append(np.stack([k[keep] for k in corners], 1))
    return idx, np.concatenate(tris).astype(np.int64)


def _o3d():
    return open3d_import.load()


def add_back(points, normals, back, outline_depth=None):
    """Add the invented back side for ``flat`` and ``mirror``; returns (points, normals).

    ``mirror`` reflects the front about the plane ``z = outline_depth`` -- the depth of the
    object's outline, where the visible surface turns away from the camera (a sphere's
    equator: its mirror image is the whole sphere) -- or, without it, about the farthest
    visible point.  Only the part in front of the plane is reflected; what is seen
    behind it (the inside of a ring or a bowl) stays as it is."""
    if back == "open":
        return points, normals
    z = points[:, 2]
    near, far = np.percentile(z, [0.5, 99.5])
    if back == "mirror":
        plane = far if outline_depth is None else float(outline_depth)
        front = z <= plane
        mirrored = points[front].copy()
        mirrored[:, 2] = 2.0 * plane - mirrored[:, 2]
        mirrored_n = normals[front].copy()
        mirrored_n[:, 2] *= -1.0
        return np.vstack([points, mirrored]), np.vstack([normals, mirrored_n])
    # flat: the silhouette pushed back to a plane a little behind the farthest point
    plane = far + 0.02 * max(far - near, 1e-6)
    flat = points * (plane / np.maximum(z, 1e-9))[:, None]
    flat_n = np.zeros_like(normals)
    flat_n[:, 2] = 1.0
    return np.vstack([points, flat]), np.vstack([normals, flat_n])


def poisson(points, normals, depth, threads=-1, scale=1.1):
    """Screened Poisson reconstruction; returns (vertices, triangles, densities).

    ``scale``: the octree cube over the points' bounding box.  Closed backs need room
    (1.5): at 1.1 the solid can touch the cube's face and come out open there."""
    o3d = _o3d()
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points.astype(np.float64)))
    pcd.normals = o3d.utility.Vector3dVector(normals.astype(np.float64))
    mesh, dens = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
        pcd, depth=int(depth), n_threads=int(threads), scale=float(scale))
    return (np.asarray(mesh.vertices, np.float64), np.asarray(mesh.triangles, np.int64),
            np.asarray(dens, np.float64))


def compact(vertices, triangles):
    """Drop vertices no triangle uses and renumber the triangles."""
    used = np.zeros(len(vertices), bool)
    used[triangles.ravel()] = True
    remap = np.cumsum(used) - 1
    return vertices[used], remap[triangles].astype(np.int64)


def keep_vertices(vertices, triangles, keep):
    """Drop vertices not in ``keep`` (bool) and every triangle touching them."""
    return compact(vertices, triangles[keep[triangles].all(axis=1)])


def drop_small_parts(vertices, triangles, min_share=0.05):
    """Remove connected pieces with fewer than ``min_share`` of the largest's triangles."""
    if len(triangles) == 0:
        return vertices, triangles
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(vertices)
    a, b = triangles[:, [0, 1, 2]].ravel(), triangles[:, [1, 2, 0]].ravel()
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    tri_label = labels[triangles[:, 0]]
    counts = np.bincount(tri_label)
    return compact(vertices, triangles[counts[tri_label] >= min_share * counts.max()])


def trim_to_view(vertices, densities, depth, mask, f, tolerance, density_quantile=0.01):
    """Which Poisson vertices the photo supports (bool per vertex) for an open back:
    inside the mask when reprojected, on the observed depth, not of the lowest density."""
    from .camera import project

    h, w = depth.shape
    uv = project(vertices, f, w, h)
    ui = np.clip(np.floor(uv[:, 0]).astype(np.int64), 0, w - 1)
    vi = np.clip(np.floor(uv[:, 1]).astype(np.int64), 0, h - 1)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    inside &= mask[vi, ui]
    on_surface = np.abs(vertices[:, 2] - depth[vi, ui]) <= tolerance
    dense = densities >= np.quantile(densities, density_quantile)
    return inside & on_surface & dense


def decimate(vertices, triangles, target_faces, colors=None):
    """Quadric decimation to about ``target_faces``; returns (vertices, triangles), plus
    the interpolated ``colors`` (0..255 floats) when given."""
    o3d = _o3d()
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices),
                                     o3d.utility.Vector3iVector(triangles.astype(np.int32)))
    if colors is not None:
        mesh.vertex_colors = o3d.utility.Vector3dVector(np.asarray(colors) / 255.0)
    mesh = mesh.simplify_quadric_decimation(int(target_faces))
    mesh.remove_unreferenced_vertices()
    out = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.triangles, np.int64)
    if colors is None:
        return out
    return (*out, np.asarray(mesh.vertex_colors) * 255.0)


def is_watertight(triangles):
    """Closed and edge-manifold: every edge is shared by exactly two triangles (the
    usual definition, as trimesh's; open3d's own check adds a slow self-intersection
    test)."""
    if len(triangles) == 0:
        return False
    e = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1).astype(np.int64)
    keys = e[:, 0] * (int(triangles.max()) + 1) + e[:, 1]
    _, counts = np.unique(keys, return_counts=True)
    return bool(np.all(counts == 2))
