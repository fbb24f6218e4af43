"""The grid mesh's outline, smoothed: pixel steps taken out of the silhouette.

The grid mesher's border runs through pixel centres, so a slanted or curved outline is
a staircase of 1 px steps and 45-degree cuts (visible as a serrated silhouette).  Its
vertices are moved along the border only, in the image plane, by Taubin smoothing
(alternate shrink and inflate steps, so a curve keeps its size), each at most
``max_shift`` pixels from its pixel centre and keeping its depth: the silhouette becomes
smooth while every vertex stays within half a pixel of what was measured.  Interior
vertices and vertices where two border loops meet are not moved; no triangle is folded.
"""

import numpy as np


def border_neighbours(triangles, n_vertices, candidates=None):
    """Vertices on exactly two border edges (one border loop passes through them) and
    their two neighbours along it: ``(vertices K, neighbours Kx2)``.  ``candidates``
    (bool per vertex), when given, must include every border vertex: then only the edges
    touching them are counted, and ``triangles`` need only hold every triangle touching
    them (:func:`smooth_outline` passes just those: the grid knows them from its mask,
    and the edge count over a whole mesh costs ~10x more than everything else here)."""
    e = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1).astype(np.int64)
    if candidates is not None:  # an edge between two others may lose its other triangle
        e = e[candidates[e[:, 0]] | candidates[e[:, 1]]]
    _, inverse, counts = np.unique(e[:, 0] * n_vertices + e[:, 1], return_inverse=True,
                                   return_counts=True)
    border = e[counts[inverse.ravel()] == 1]
    ends, others = border.ravel(), border[:, ::-1].ravel()
    on_two = np.bincount(ends, minlength=n_vertices) == 2
    keep = on_two[ends]
    ends, others = ends[keep], others[keep]
    order = np.argsort(ends, kind="stable")
    ends, others = ends[order], others[order]
    return ends[::2], others.reshape(-1, 2)


def smooth_outline(uv, triangles, candidates=None, iterations=20, shrink=0.5, inflate=-0.51,
                   max_shift=0.5, offset=0.0):
    """``uv`` (Nx2 image positions of the vertices, pixels) with the border vertices
    smoothed along the border (see the module docstring; ``candidates`` as for
    :func:`border_neighbours`), then moved ``offset`` pixels outward, across the border
    (away from their own triangles): the grid's vertices sit at pixel centres, half a
    pixel inside the mask's edge (or the depth jump's), and an ``offset`` of 0.5 puts
    the mesh's silhouette on the edge itself."""
    if candidates is not None:
        triangles = triangles[_touching(triangles, candidates)]
    verts, nbrs = border_neighbours(triangles, len(uv), candidates)
    if len(verts) == 0:
        return uv
    out = np.array(uv, np.float64)
    start = out[verts].copy()
    for _ in range(iterations):
        for step in (shrink, inflate):
            p = out[verts]
            p = p + step * (0.5 * (out[nbrs[:, 0]] + out[nbrs[:, 1]]) - p)
            d = p - start
            r = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-12)
            out[verts] = start + d * np.minimum(1.0, max_shift / r)[:, None]
    if offset:
        out[verts] += offset * _outward(out, verts, nbrs, triangles)
    # a triangle turned over (or nearly flattened) gets its corners back
    moved = np.zeros(len(uv), bool)
    moved[verts] = True
    triangles = triangles[_touching(triangles, moved)]
    for _ in range(3):
        bad = _area(out, triangles) / _area(uv, triangles) < 0.25
        if not bad.any():
            break
        back = np.unique(triangles[bad])
        out[back] = uv[back]
    return out


def _outward(uv, verts, nbrs, triangles):
    """Unit normals of the border at ``verts`` (from their two neighbours along it),
    pointing away from the side their own triangles are on."""
    t = uv[nbrs[:, 1]] - uv[nbrs[:, 0]]
    n = np.column_stack([t[:, 1], -t[:, 0]])
    n /= np.maximum(np.hypot(n[:, 0], n[:, 1]), 1e-12)[:, None]
    centre = uv[triangles].mean(axis=1)
    total = np.zeros((len(uv), 2))
    count = np.zeros(len(uv))
    for k in range(3):
        np.add.at(total, triangles[:, k], centre)
        np.add.at(count, triangles[:, k], 1.0)
    inward = total[verts] / np.maximum(count[verts], 1.0)[:, None] - uv[verts]
    n[np.einsum("ij,ij->i", n, inward) > 0] *= -1.0
    return n


def _touching(triangles, flags):
    """Which triangles have a corner with ``flags`` set."""
    return flags[triangles[:, 0]] | flags[triangles[:, 1]] | flags[triangles[:, 2]]


def _area(uv, triangles):
    """Signed areas of the triangles in the image (the grid's are all -0.5 or -1 px^2:
    with v pointing down, its counter-clockwise-from-the-camera winding is negative)."""
    a, b, c = uv[triangles[:, 0]], uv[triangles[:, 1]], uv[triangles[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) -
                  (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
