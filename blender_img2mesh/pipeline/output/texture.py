"""The photo itself on the mesh: camera UVs and the texture image.

The pipeline knows the camera exactly, so every vertex's UV is where it projects into the
photo, and the texture is the full-size photo (as loaded: EXIF-rotated) cropped to the
object plus a margin: the mesh shows the photo at the photo's own resolution whatever its
vertex count.  Pixels outside the object are filled from the object outward (push-pull:
a smooth membrane, not streaks), so filtering and mip-mapping never bleed the background
in.

Closed backs (``flat``, ``mirror``): faces that do not face the camera were never seen.
Projecting them would smear the photo across them (a flat back would show the front
again; side faces stretch the outline's pixels over their length).  They get a second,
small region of the texture instead -- the colours along the object's outline, filled
smoothly inward -- so what was not seen takes the colour of the nearest outline,
varying gently, with no streaks; their vertices are split from the front's along the
seam.  (A packed atlas, e.g. xatlas, was the alternative: it needs a rasteriser to bake
colours into it and gains nothing here, where every seen face already has an exact
projection and every unseen face gets an invented colour anyway.)
"""

import numpy as np
from PIL import Image
from scipy import ndimage

MAX_TEXTURE = 4096  # default cap on the texture's longer side
BACK_SCALE = 4  # the unseen region's resolution: the front's / 4 (it is smooth)
FILL_SIZE = 384  # the outward fill is computed at about this size (it is smooth too)
FACING = 0.1  # a face is seen when the cosine between its normal and the view is above


class Texture:
    """The texture image (``image``, uint8 HxWx3) and how to map camera pixels into it."""

    def __init__(self, front, box, back=None):
        self.front, self.box, self.back = front, box, back
        th, tw = front.shape[:2]
        if back is None:
            self.image = front
        else:  # the back region to the right of the front, top-aligned
            bh, bw = back.shape[:2]
            self.image = np.zeros((max(th, bh), tw + bw, 3), np.uint8)
            self.image[:th, :tw] = front
            self.image[:bh, tw:] = back
        self.size = (self.image.shape[1], self.image.shape[0])

    def uv(self, xy, unseen=None):
        """UVs (N, 2 float32; origin bottom-left, as Blender, OBJ and PLY readers take
        them) of full-photo pixel positions ``xy`` (continuous: pixel ``i``'s centre at
        ``i + 0.5``); rows flagged ``unseen`` map into the back region."""
        x0, y0, x1, y1 = self.box
        rel = (np.asarray(xy, np.float64) - (x0, y0)) / (x1 - x0, y1 - y0)
        W, H = self.size
        th, tw = self.front.shape[:2]
        px = rel * (tw, th)
        if unseen is not None and self.back is not None and unseen.any():
            bh, bw = self.back.shape[:2]
            px[unseen] = np.clip(rel[unseen], 0.0, 1.0) * (bw, bh) + (tw, 0.0)
        uv = px / (W, H)
        uv[:, 1] = 1.0 - uv[:, 1]
        return uv.astype(np.float32)

    def colors(self, uv):
        """sRGB uint8 colours of the texture at ``uv`` (bilinear)."""
        image = self.image
        H, W = image.shape[:2]
        x = uv[:, 0] * W - 0.5
        y = (1.0 - uv[:, 1]) * H - 0.5
        out = np.empty((len(uv), 3), np.uint8)
        for c in range(3):
            vals = ndimage.map_coordinates(image[..., c], [y, x], order=1, mode="nearest",
                                           output=np.float32)
            out[:, c] = np.clip(vals + 0.5, 0, 255).astype(np.uint8)
        return out


def photo_xy(points, f, work_shape, full_shape):
    """Camera-frame points -> continuous pixel positions in the full-size photo, seen by
    the photo's own camera: the working image's (focal length ``f``, square pixels,
    centred) scaled by the photo's longer side over the working image's.  (The working
    image's rounded size can differ from that scale by a fraction of a pixel per axis:
    one scale keeps the photo's camera a pinhole with square pixels.)"""
    h, w = work_shape
    H, W = full_shape
    s = max(H, W) / max(h, w)
    z = np.maximum(points[:, 2], 1e-9)
    return np.stack([points[:, 0] / z * (f * s) + 0.5 * W,
                     points[:, 1] / z * (f * s) + 0.5 * H], axis=1)


def full_mask(mask, full_shape):
    """The working-size mask at the photo's size."""
    H, W = full_shape
    if mask.shape == (H, W):
        return mask
    img = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(img.resize((W, H), Image.BILINEAR)) >= 128


def object_box(mask, margin=0.03, min_margin=8):
    """(x0, y0, x1, y1): the mask's bounding box plus a margin, inside the image."""
    H, W = mask.shape
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return 0, 0, W, H
    pad = max(min_margin, int(round(margin * max(rows[-1] - rows[0], cols[-1] - cols[0]))))
    return (max(0, cols[0] - pad), max(0, rows[0] - pad), min(W, cols[-1] + 1 + pad),
            min(H, rows[-1] + 1 + pad))


def _push_pull(image, weight):
    """``image`` (h, w, 3 float) with its low-``weight`` pixels filled smoothly from the
    weighted ones (a pyramid: averages pushed down, filled values pulled back up)."""
    h, w = weight.shape
    if weight.min() >= 1.0 or max(h, w) <= 1:
        total = weight.sum()
        if total > 0 and weight.min() < 1.0:  # a single pixel left: the weighted mean
            mean = (image * weight[..., None]).sum(axis=(0, 1)) / total
            return image * weight[..., None] + mean * (1.0 - weight[..., None])
        return image
    ph, pw = h + h % 2, w + w % 2
    wi = np.zeros((ph, pw), np.float32)
    wi[:h, :w] = weight
    im = np.zeros((ph, pw, 3), np.float32)
    im[:h, :w] = image * weight[..., None]
    ws = wi.reshape(ph // 2, 2, pw // 2, 2).sum(axis=(1, 3))
    ims = im.reshape(ph // 2, 2, pw // 2, 2, 3).sum(axis=(1, 3))
    coarse = _push_pull(ims / np.maximum(ws, 1e-6)[..., None], np.minimum(ws, 1.0))
    up = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(coarse[..., c]))
                              .resize((pw, ph), Image.BILINEAR)) for c in range(3)],
                  axis=-1)[:h, :w]
    return image * weight[..., None] + up * (1.0 - weight[..., None])


def _small(image, known, size):
    """``image`` (uint8) at about ``size`` px, each small pixel the average of the known
    pixels under it, and each small pixel's known share (Pillow's box filter: C speed,
    uint8 all the way)."""
    h, w = known.shape
    scale = min(1.0, size / max(h, w))
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    share = np.asarray(Image.fromarray(known.astype(np.uint8) * 255).resize(
        (sw, sh), Image.BOX), np.float32) / 255.0
    sums = np.asarray(Image.fromarray(image * known[..., None]).resize((sw, sh), Image.BOX),
                      np.float32)
    return sums / np.maximum(share, 1e-6)[..., None], share


def fill_outside(image, known):
    """``image`` (uint8) with the pixels not ``known`` filled smoothly from the known
    ones (computed small, pasted at full size only where unknown)."""
    if known.all() or not known.any():
        return image
    small, weight = _small(image, known, FILL_SIZE)
    filled = _push_pull(small, np.where(weight > 0.999, 1.0, weight).astype(np.float32))
    h, w = known.shape
    up = np.asarray(Image.fromarray(np.clip(filled + 0.5, 0, 255).astype(np.uint8))
                    .resize((w, h), Image.BILINEAR))
    out = image.copy()
    np.copyto(out, up, where=~known[..., None])
    return out


def outline_fill(image, known, size):
    """A ``size``-px image of the object's outline colours filled smoothly everywhere
    (what faces the photo never saw are painted with)."""
    small, weight = _small(image, known, size)
    inner = weight > 0.999
    ring = inner & ~ndimage.binary_erosion(inner, border_value=0)
    if not ring.any():
        ring = weight > 0
    filled = _push_pull(small, ring.astype(np.float32))
    return np.clip(filled + 0.5, 0, 255).astype(np.uint8)


def build(rgb_full, mask_work, max_size=None, unseen=False):
    """The :class:`Texture` for a photo and the object's working-size mask: the photo
    cropped to the object, at most ``max_size`` px on the longer side of the whole
    texture (default: the photo's own, capped at :data:`MAX_TEXTURE`), the outside
    filled; with ``unseen``, the back region too."""
    H, W = rgb_full.shape[:2]
    mask = full_mask(mask_work, (H, W))
    box = object_box(mask)
    x0, y0, x1, y1 = box
    crop, known = rgb_full[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    cw, ch = x1 - x0, y1 - y0
    widest = max(cw * (1.0 + (1.0 / BACK_SCALE if unseen else 0.0)), ch)
    cap = max_size or min(max(W, H), MAX_TEXTURE)
    scale = min(1.0, cap / widest)
    if scale < 1.0:
        size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
        crop = np.asarray(Image.fromarray(crop).resize(size, Image.LANCZOS))
        known = np.asarray(Image.fromarray(known.astype(np.uint8) * 255)
                           .resize(size, Image.BILINEAR)) >= 128
    front = fill_outside(np.ascontiguousarray(crop), known)
    back = None
    if unseen:
        th, tw = front.shape[:2]
        back = outline_fill(front, known, max(1, max(th, tw) // BACK_SCALE))
    return Texture(front, box, back)


def unseen_faces(vertices, triangles):
    """Which faces (camera frame) do not face the camera."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    centre = (a + b + c) / 3.0
    cos = -np.einsum("ij,ij->i", n, centre) / np.maximum(
        np.linalg.norm(n, axis=1) * np.linalg.norm(centre, axis=1), 1e-30)
    return cos <= FACING


def split_seam(vertices, triangles, unseen):
    """Give the unseen faces their own copies of the vertices they share with seen
    faces (one UV per vertex on each side of the seam).  Returns (vertices, triangles,
    unseen per vertex, index of each vertex's original)."""
    n = len(vertices)
    seen_used = np.zeros(n, bool)
    seen_used[triangles[~unseen].ravel()] = True
    back = triangles[unseen]
    shared = np.unique(back[seen_used[back]])
    copy_of = np.full(n, -1, np.int64)
    copy_of[shared] = np.arange(n, n + len(shared))
    triangles = triangles.copy()
    triangles[unseen] = np.where(seen_used[back], copy_of[back], back)
    source = np.concatenate([np.arange(n), shared])
    vertex_unseen = np.zeros(len(source), bool)
    vertex_unseen[triangles[unseen].ravel()] = True
    return vertices[source], triangles, vertex_unseen, source
