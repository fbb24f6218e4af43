"""The texture: one atlas (xatlas charts), each face painted from its best photo.

A face's best view sees it (a ray from the camera to its centre hits it first: open3d's
ray casting), inside the object's mask, as squarely and as large as possible (score: the
cosine of the viewing angle times the pixels per unit length there).  Seams are levelled:
at a vertex whose faces take different views, each face's colours are shifted towards
the vertex's mean over those views, the shift fading across the face (barycentric), so
neighbouring charts meet without a step.  Texels no face covers are filled from the
covered ones (the single photo's push-pull, :func:`output.texture.fill_outside`).
"""

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from ..output.render import raycasting_scene
from ..output.texture import fill_outside

#: faces seen at a grazing angle (cosine below this) are not painted from that view
MIN_COSINE = 0.05


class Atlas:
    """``image`` (uint8 HxWx3), ``uv`` (per new vertex, origin bottom-left), and the new
    mesh: ``vertices`` / ``triangles`` (xatlas splits vertices along chart seams)."""

    def __init__(self, image, vertices, triangles, uv, views):
        self.image, self.vertices, self.triangles, self.uv = image, vertices, triangles, uv
        self.views = views  # the view each face took, -1 for none


def _face_scores(verts, faces, cameras, masks):
    """(views, faces) score of each view for each face (0: not usable)."""
    import open3d as o3d

    a, b, c = (verts[faces[:, i]] for i in range(3))
    centre = (a + b + c) / 3.0
    normal = np.cross(b - a, c - a)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-30)
    scene = raycasting_scene(verts, faces)
    out = np.zeros((len(cameras), len(faces)), np.float32)
    for k, (cam, mask) in enumerate(zip(cameras, masks)):
        to_cam = cam.centre - centre
        dist = np.linalg.norm(to_cam, axis=1)
        cos = np.einsum("ij,ij->i", normal, to_cam) / np.maximum(dist, 1e-30)
        uv, z = cam.project(centre)
        h, w = mask.shape
        inside = (cos > MIN_COSINE) & (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & \
            (uv[:, 1] >= 0) & (uv[:, 1] < h)
        idx = np.flatnonzero(inside)
        x, y = uv[idx, 0].astype(np.int64), uv[idx, 1].astype(np.int64)
        idx = idx[mask[y, x]]
        rays = np.hstack([np.broadcast_to(cam.centre, (len(idx), 3)),
                          -to_cam[idx] / dist[idx, None]]).astype(np.float32)
        hit = scene.cast_rays(o3d.core.Tensor(rays))["primitive_ids"].numpy()
        idx = idx[hit.astype(np.int64) == idx]
        f = 0.5 * (cam.K[0, 0] + cam.K[1, 1])
        out[k, idx] = cos[idx] * f / np.maximum(z[idx], 1e-9)
    return out


def choose_views(verts, faces, cameras, masks, rounds=2):
    """Each face's view (-1 where none sees it), smoothed: a face takes the view most of
    its neighbours took when that view scores at least half its own best."""
    scores = _face_scores(verts, faces, cameras, masks)
    best = scores.argmax(axis=0)
    top = scores.max(axis=0)
    label = np.where(top > 0, best, -1)
    if len(faces) < 2:
        return label
    # faces sharing an edge
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1)
    fid = np.tile(np.arange(len(faces)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    e, fid = edges[order], fid[order]
    same = (e[1:] == e[:-1]).all(axis=1)
    pairs = np.stack([fid[:-1][same], fid[1:][same]], 1)
    nb = np.concatenate([pairs, pairs[:, ::-1]])
    for _ in range(rounds):
        lab = label[nb[:, 1]]
        ok = lab >= 0
        key = nb[ok, 0] * (len(cameras) + 1) + lab[ok]
        uniq, counts = np.unique(key, return_counts=True)
        face, view = uniq // (len(cameras) + 1), uniq % (len(cameras) + 1)
        order = np.lexsort((-counts, face))
        first = np.r_[True, face[order][1:] != face[order][:-1]]
        votes_face, votes_view = face[order][first], view[order][first]
        good = scores[votes_view, votes_face] >= 0.5 * top[votes_face]
        label[votes_face[good]] = votes_view[good]
    return label


def _rasterize(uv_px, triangles, size):
    """Texel -> triangle index (-1: none), drawing every triangle into an int image."""
    w, h = size
    img = Image.new("I", (w, h), -1)
    draw = ImageDraw.Draw(img)
    for i, tri in enumerate(uv_px[triangles].tolist()):
        draw.polygon([tuple(p) for p in tri], fill=i, outline=i)
    return np.asarray(img, np.int64)


def _sample(photo, xy):
    """Bilinear colours (N, 3 float) of ``photo`` at continuous pixel positions."""
    out = np.empty((len(xy), 3), np.float32)
    coords = [xy[:, 1] - 0.5, xy[:, 0] - 0.5]
    for c in range(3):
        out[:, c] = ndimage.map_coordinates(photo[..., c], coords, order=1, mode="nearest",
                                            output=np.float32)
    return out


def bake(verts, faces, cameras, photos, masks, size=2048, level=True):
    """The :class:`Atlas` of the mesh: ``cameras`` for ``photos`` (full size, uint8) and
    ``masks`` (any size: the cameras are scaled to each)."""
    import xatlas

    label = choose_views(verts, faces, [c.scaled(m.shape[::-1]) for c, m in
                                        zip(cameras, masks)], masks)
    vid, split, chart_uv, density = _charts(verts, faces, label, cameras)
    atlas = xatlas.Atlas()
    atlas.add_mesh(verts[vid].astype(np.float32), split.astype(np.uint32), None,
                   chart_uv.astype(np.float32))
    charts = xatlas.ChartOptions()
    charts.use_input_mesh_uvs = True  # (xatlas only packs: its own charts take ~30 s)
    pack = xatlas.PackOptions()
    pack.resolution = 0  # one atlas, as large as texels_per_unit makes it
    pack.texels_per_unit = _density(verts, faces, density, size)
    pack.padding = 2
    pack.bilinear = True
    pack.blockAlign = True
    atlas.generate(chart_options=charts, pack_options=pack)
    vmap, tris, uv = atlas[0]
    vmap = vid[vmap]  # xatlas's vertices -> the surface's
    tris = tris.astype(np.int64)
    W, H = atlas.width, atlas.height
    uv_px = uv * (W, H)
    tid = _rasterize(uv_px, tris, (W, H))
    ys, xs = np.nonzero(tid >= 0)
    t = tid[ys, xs]
    # barycentric coordinates of each texel's centre in its triangle (UV space)
    p = np.stack([xs + 0.5, ys + 0.5], 1)
    a, b, c = (uv_px[tris[t, i]] for i in range(3))
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) > 1e-12, den, 1e-12)
    l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    bary = np.clip(np.stack([1 - l1 - l2, l1, l2], 1), 0, 1)
    bary /= bary.sum(axis=1, keepdims=True)
    orig = vmap[tris[t]]  # (N, 3) original vertex ids
    pts = np.einsum("nk,nkj->nj", bary, verts[orig])
    view = label[t]
    colour = np.zeros((len(t), 3), np.float32)
    offset = _seam_offsets(verts, faces, label, cameras, photos) if level else None
    for k, (cam, photo) in enumerate(zip(cameras, photos)):
        sel = np.flatnonzero(view == k)
        if not len(sel):
            continue
        xy, _ = cam.project(pts[sel])
        colour[sel] = _sample(photo, xy)
        if offset is not None:
            off = offset[k]  # per original vertex, this view's shift
            colour[sel] += np.einsum("nk,nkj->nj", bary[sel], off[orig[sel]])
    image = np.zeros((H, W, 3), np.uint8)
    known = np.zeros((H, W), bool)
    seen = view >= 0
    image[ys[seen], xs[seen]] = np.clip(colour[seen] + 0.5, 0, 255).astype(np.uint8)
    known[ys[seen], xs[seen]] = True
    image = fill_outside(image, known) if known.any() else image + 128
    uv_out = uv.astype(np.float32).copy()
    uv_out[:, 1] = 1.0 - uv_out[:, 1]  # xatlas: origin top-left (image rows)
    return Atlas(image, verts[vmap], tris, uv_out, label)


def _charts(verts, faces, label, cameras):
    """The charts xatlas packs: ``(vertex ids, triangles, uv, pixels per unit)``: the
    surface split into one vertex per vertex and chart.  A face a view paints is laid
    out as that view's photo sees it (its pixel coordinates: no chart is distorted
    from what the photo shows); faces no view sees are projected on the plane of their
    normal's main axis (six sets of charts).  Pixels per unit: the photos' median
    density on the surface (focal length over depth)."""
    n = len(cameras)
    a, b, c = (verts[faces[:, i]] for i in range(3))
    normal = np.cross(b - a, c - a)
    main = np.abs(normal).argmax(axis=1)
    side = main + 3 * (normal[np.arange(len(faces)), main] < 0)
    chart = np.where(label >= 0, label, n + side)
    key = faces * (n + 6) + chart[:, None]
    uniq, inverse = np.unique(key.ravel(), return_inverse=True)
    vid, of = uniq // (n + 6), uniq % (n + 6)
    uv = np.zeros((len(uniq), 2))
    density = []
    for k, cam in enumerate(cameras):
        sel = of == k
        if sel.any():
            uv[sel], z = cam.project(verts[vid[sel]])
            density.append(0.5 * (cam.K[0, 0] + cam.K[1, 1]) / np.median(z))
    for axis in range(6):
        sel = of == n + axis
        keep = [i for i in range(3) if i != axis % 3]
        uv[sel] = verts[vid[sel]][:, keep]
    return vid, inverse.reshape(-1, 3), uv, float(np.median(density)) if density else 1.0


def _density(verts, faces, pixels_per_unit, size, fill=0.6):
    """xatlas's texels per unit (of the surface: it scales every chart to its area in
    3D): the photos' own density, less when the surface would not fit in ``size`` x
    ``size`` at ``fill`` of its area."""
    a, b, c = (verts[faces[:, i]] for i in range(3))
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum()
    return float(min(pixels_per_unit, size * np.sqrt(fill / max(area, 1e-12))))


def _seam_offsets(verts, faces, label, cameras, photos):
    """``{view: (V, 3) shift}``: at each vertex whose faces take several views, the mean
    of those views' colours there minus this view's (zero elsewhere)."""
    V = len(verts)
    views = np.unique(label[label >= 0])
    fv = np.repeat(np.arange(len(faces)), 3)
    vv = faces.ravel()
    lv = label[fv]
    ok = lv >= 0
    pair = np.unique(vv[ok] * (len(cameras) + 1) + lv[ok])
    pv, pl = pair // (len(cameras) + 1), pair % (len(cameras) + 1)
    count = np.bincount(pv, minlength=V)
    seam = count[pv] > 1
    pv, pl = pv[seam], pl[seam]
    col = np.zeros((len(pv), 3), np.float32)
    for k in views:
        sel = np.flatnonzero(pl == k)
        if len(sel):
            xy, _ = cameras[k].project(verts[pv[sel]])
            col[sel] = _sample(photos[k], xy)
    total = np.zeros((V, 3), np.float32)
    np.add.at(total, pv, col)
    mean = total / np.maximum(count, 1)[:, None]
    out = {}
    for k in views:
        off = np.zeros((V, 3), np.float32)
        sel = pl == k
        off[pv[sel]] = mean[pv[sel]] - col[sel]
        out[int(k)] = off
    return out
