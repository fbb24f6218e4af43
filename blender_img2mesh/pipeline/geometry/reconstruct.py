"""Depth image -> triangle mesh in the camera frame (the pipeline's geometry stages).

Two meshers (``--mesher``; ``auto`` picks by ``--back``, see :func:`surface.mesher_for`):

* ``grid``: the masked depth image triangulated pixel by pixel.  Depth outliers are
  replaced by their neighbourhood's median, a surface's last pixel before the mask's
  edge or a jump is kept on that surface (:func:`camera.rim_depth`: a grazing rim or a
  flying pixel is neither cut off nor left floating), no triangle bridges a depth jump
  (occlusion edges); the outline's pixel steps are smoothed away (:mod:`outline`).
* ``poisson``: oriented points (thinned to what the octree can use) -> screened Poisson
  -> for an open back, trimmed to what the photo supports.
"""

import numpy as np
from scipy import ndimage

from ..errors import Img2MeshError
from . import camera, outline, surface


def _extended(z, mask, keep_background):
    return z if keep_background else camera.extend_outside(z, mask)


def _grid(z, mask, f, keep_background, reporter):
    reporter.stage("points", "Cleaning the depth")
    zx = _extended(z, mask, keep_background)
    outliers, median = camera.depth_outliers(zx, mask, f, return_median=True)
    zx = np.where(outliers, median, zx)
    # a grazing rim's last pixel (or a flying one) onto its surface, not cut off
    zx = camera.rim_depth(zx, f, mask)
    # every pixel of the object keeps its vertex; only the triangles that would span a
    # depth jump are left out, so both surfaces reach the jump (the front one's outline
    # then goes onto the mask's edge there too, like the object's outline)
    down, right = camera.depth_jumps(zx, f, mask=mask)
    valid = _large_parts(mask)
    reporter.stage("surface", "Triangulating the depth image")
    _, T = surface.grid_mesh(valid, cut=(down, right))
    ys, xs = np.nonzero(valid)  # the grid's vertex order
    # pixels that can be on the mesh's border: next to a pixel without a vertex, or at a
    # cut quad's corner
    jump = np.zeros_like(valid)
    jump[:-1, :] |= down
    jump[1:, :] |= down
    jump[:, :-1] |= right
    jump[:, 1:] |= right
    box = np.ones((3, 3), bool)
    edge = valid & (~ndimage.binary_erosion(valid, box, border_value=0) |
                    ndimage.binary_dilation(jump, box))
    uvz, T = surface.compact(np.column_stack([xs + 0.5, ys + 0.5, zx[valid], edge[valid]]), T)
    # the outline smoothed and put on the mask's edge (pixel centres are half a pixel in)
    uv = outline.smooth_outline(uvz[:, :2], T, candidates=uvz[:, 3] > 0,
                                offset=0.5)
    V = camera.unproject(uv, uvz[:, 2], f, zx.shape[1], zx.shape[0])
    # specks of noise that the cuts set apart (a real part behind a jump, a table's
    # far leg, is kept: 1/200 of the largest piece is ~10x a speck)
    V, T = surface.drop_small_parts(V, T, min_share=0.005)
    return V, T, len(V)


def _large_parts(valid, min_share=0.05):
    """``valid`` without its pieces (8-connected, as the grid's triangles connect pixels)
    smaller than ``min_share`` of the largest: the grid's cheap drop_small_parts."""
    labels, n = ndimage.label(valid, structure=np.ones((3, 3), bool))
    if n <= 1:
        return valid
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return (sizes >= min_share * sizes.max())[labels]


def _points(zx, mask, f, octree_depth):
    """Camera-frame points and normals of the masked depth: flying pixels and outliers
    removed, thinned to what the octree can use."""
    pts = camera.backproject(zx, f)
    normals = camera.grid_normals(pts)
    valid = mask & ~camera.depth_edges(zx, f, mask=mask) & \
        ~camera.depth_outliers(zx, mask, f)
    stride = camera.sample_stride(mask, octree_depth)
    if stride > 1:
        grid = np.zeros_like(valid)
        grid[stride // 2::stride, stride // 2::stride] = True
        valid &= grid
    return pts[valid], normals[valid]


def _outline_depth(zx, mask):
    """Median depth along the object's outline (None without one, e.g. the whole picture)."""
    outline = mask & ~ndimage.binary_erosion(mask, border_value=1)
    return float(np.median(zx[outline])) if outline.any() else None


def _poisson(z, mask, f, keep_background, octree_depth, back, reporter):
    reporter.stage("points", "Back-projecting depth to points")
    zx = _extended(z, mask, keep_background)
    P, N = _points(zx, mask, f, octree_depth)
    if len(P) < 100:
        raise Img2MeshError(f"too few usable depth points ({len(P)}) to build a surface",
                            hint="use a larger image or a bigger object in the frame")
    reporter.stage("surface", f"Poisson reconstruction (depth {octree_depth})")
    P2, N2 = surface.add_back(P, N, back, _outline_depth(zx, mask))
    V, T, D = surface.poisson(P2, N2, octree_depth, scale=1.1 if back == "open" else 1.5)
    if back == "open":
        reporter.stage("trim", "Trimming unsupported surface")
        extent = float(np.ptp(P, axis=0).max())
        tol = max(4.0 * extent / 2 ** octree_depth, 0.01 * extent)
        support = ndimage.binary_dilation(mask, iterations=2)
        V, T = surface.keep_vertices(V, T, surface.trim_to_view(V, D, zx, support, f, tol))
    return V, T, len(P)


def build_surface(spec, z, mask, f, reporter):
    """(vertices Nx3 float64 in the camera frame, triangles Mx3, info for the result);
    ``spec``: a :class:`job.GeometrySpec`."""
    mesher = surface.mesher_for(spec.mesher, spec.back)
    if mesher == "grid" and spec.back != "open":
        raise Img2MeshError(f"--mesher grid makes the visible surface only; --back "
                            f"{spec.back} needs --mesher poisson (or auto)")
    if mesher == "grid":
        V, T, n_points = _grid(z, mask, f, spec.whole_picture, reporter)
    else:
        V, T, n_points = _poisson(z, mask, f, spec.whole_picture, spec.poisson_depth,
                                  spec.back, reporter)
        V, T = surface.drop_small_parts(V, T)
    if spec.target_faces and len(T) > spec.target_faces:
        V, T = surface.decimate(V, T, spec.target_faces)
    if len(T) == 0:
        raise Img2MeshError("the surface came out empty" +
                            (" after trimming" if mesher == "poisson" else ""),
                            hint="use a larger image or a bigger object in the frame, "
                            "try --back mirror or another --depth-model")
    if not np.isfinite(V).all():  # never into a file or a JSON result
        raise Img2MeshError("the surface has points at invalid (NaN or infinite) positions",
                            hint="check the depth (--depth-map, --depth-scale, --depth-kind) "
                            "and --fov")
    info = {"mesher": mesher, "points": n_points,
            "poisson_depth": spec.poisson_depth if mesher == "poisson" else None}
    return V, T, info
