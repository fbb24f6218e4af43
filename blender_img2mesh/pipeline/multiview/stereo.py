"""Photo-consistency: a depth map per view by plane sweep with normalized cross-correlation
(NCC) against its neighbouring views, on the CPU (PyTorch: ``grid_sample`` warps every
depth hypothesis of every neighbour at once, ``avg_pool2d`` gives the windowed moments).

The hypotheses of a pixel lie between where its ray enters the visual hull and where it
last leaves it (the object is inside the hull, so its first surface along the ray is
there): a convex part needs few, and the inside of a cup is still reachable.  A pixel's
score is the mean of its best two neighbours' NCC (one neighbour may not see the point);
the depth is refined to a fraction of a step by a parabola through the best three.
"""

import numpy as np

from .cameras import apply

#: depth hypotheses per pixel
HYPOTHESES = 32
#: NCC window (pixels, odd)
WINDOW = 7
#: neighbours compared with each view, and the angle between optical axes they may have
NEIGHBOURS = 4
MIN_ANGLE, MAX_ANGLE = 4.0, 50.0
#: a depth is kept when its score is above this (NCC, -1..1)
MIN_SCORE = 0.5
#: a depth is kept when this many neighbours' depth maps confirm it
MIN_AGREE = 1
#: ... of this many nearest views (more than are matched: a point the matched views
#: cannot confirm, such as the bottom of a cup, may be confirmed by another)
CHECK_NEIGHBOURS = 8
#: ... and the reference window's contrast is above this (grey levels, 0..1)
MIN_STD = 0.01


def gray(rgb):
    rgb = rgb.astype(np.float32)
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255.0


def neighbours(cameras, index, count=NEIGHBOURS):
    """The views whose optical axes are closest to view ``index``'s (within the angles)."""
    d0 = cameras[index].R[2]
    angles = []
    for j, cam in enumerate(cameras):
        if j == index:
            continue
        a = np.degrees(np.arccos(np.clip(d0 @ cam.R[2], -1, 1)))
        if MIN_ANGLE <= a <= MAX_ANGLE:
            angles.append((a, j))
    return [j for _, j in sorted(angles)[:count]]


def _window_sums(x, dim):
    """Sums of :data:`WINDOW` consecutive values along ``dim`` (torch; no padding: the
    result is ``WINDOW - 1`` shorter): sums of 1, 2, 4, ... values combined as the
    window's length in binary (four additions for 7 instead of six)."""
    size = x.shape[dim] - WINDOW + 1
    out, offset, power, span = None, 0, x, 1
    while span <= WINDOW:
        if WINDOW & span:
            part = power.narrow(dim, offset, size)
            out = part.clone() if out is None else out.add_(part)
            offset += span
        if 2 * span > WINDOW:
            break
        length = power.shape[dim] - span
        power = power.narrow(dim, 0, length) + power.narrow(dim, span, length)
        span *= 2
    return out


def _box(x):
    """Mean over each pixel's window, image by image of (N, 1, H, W) (torch), for the
    pixels :data:`WINDOW` // 2 away from the edges (the caller works on a box grown by
    that much): sums of shifted slices, a row then a column, exact to float32's rounding
    (a running sum is not), ~4x faster than torch's ``avg_pool2d`` and SciPy's
    ``uniform_filter`` here."""
    return _window_sums(_window_sums(x, -1), -2).div_(WINDOW * WINDOW)


def _best_two_mean(ncc):
    """The mean of the two largest of (n, h, w) along the first axis (n >= 2): a running
    pair of maxima, elementwise (torch's ``topk`` along a short first axis: 14x slower)."""
    import torch

    first = torch.maximum(ncc[0], ncc[1])
    second = torch.minimum(ncc[0], ncc[1])
    for x in ncc[2:]:
        second = torch.maximum(second, torch.minimum(first, x))
        first = torch.maximum(first, x)
    return (first + second) * 0.5


def _crop(todo, margin=WINDOW):
    rows, cols = np.flatnonzero(todo.any(axis=1)), np.flatnonzero(todo.any(axis=0))
    h, w = todo.shape
    return (slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)))


def _projections(cameras, index, nbrs, box):
    """Where the point at camera z = 1 on each pixel's ray of view ``index`` (the pixels of
    ``box``) lands in each neighbour, homogeneous: ``(P, q)`` such that the point at depth
    z projects to ``P * z + q`` (P: (n, 3, h, w); q: (n, 3, 1, 1); pixels, K's convention),
    so a hypothesis costs a multiply-add, not a rotation of every ray."""
    cam = cameras[index]
    u, v = np.meshgrid(np.arange(box[1].start, box[1].stop) + 0.5,
                       np.arange(box[0].start, box[0].stop) + 0.5)
    rays = apply(np.linalg.inv(cam.K), np.stack([u, v, np.ones_like(u)], -1))  # z = 1
    P, q = [], []
    for j in nbrs:
        other = cameras[j]
        Rrel = other.R @ cam.R.T
        P.append(np.moveaxis(apply(other.K @ Rrel, rays), -1, 0))
        q.append(other.K @ (other.t - Rrel @ cam.t))
    return (np.stack(P).astype(np.float32),
            np.asarray(q, np.float32).reshape(len(nbrs), 3, 1, 1))


def depth_map(index, cameras, grays, near, far, valid, hypotheses=HYPOTHESES):
    """Depth (camera z; NaN where unknown) and score of view ``index``.  ``near``/``far``:
    the hull's range along each pixel's ray as camera z (H, W; NaN outside the hull);
    ``valid``: pixels to estimate (the view's mask).  Works on the box around them, in
    float32 with torch (its operations use every core; NumPy's did not: 0.9 s a view at
    400 px before, see docs/benchmarks.md)."""
    import torch
    import torch.nn.functional as F

    H, W = grays[index].shape
    nbrs = neighbours(cameras, index)
    depth = np.full((H, W), np.nan, np.float32)
    score = np.full((H, W), -1.0, np.float32)
    todo_full = valid & np.isfinite(near) & np.isfinite(far)
    if len(nbrs) < 1 or not todo_full.any():
        return depth, score

    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, np.float32))

    box = _crop(todo_full)
    todo = todo_full[box]
    n, keep = len(nbrs), min(2, len(nbrs))
    # the windows' pixels: the box grown by the window's half, past the image's edge too
    # (the view's rays there are still rays; its grey levels there are reflected)
    r = WINDOW // 2
    grown = (slice(box[0].start - r, box[0].stop + r), slice(box[1].start - r,
                                                             box[1].stop + r))
    P, q = _projections(cameras, index, nbrs, grown)
    for a in (P, q):  # pixels -> grid_sample's -1..1: x' = 2 x / w - z, y' = 2 y / h - z
        for axis, size in ((0, 1), (1, 0)):
            scale = np.array([2.0 / grays[j].shape[size] for j in nbrs], np.float32)
            a[:, axis] = a[:, axis] * scale[:, None, None] - a[:, 2]
    P, q = tensor(P), tensor(q)
    near_grown = np.pad(np.where(todo, near[box], 1.0), r, mode="edge")
    far_grown = np.pad(np.where(todo, np.maximum(far[box], near[box]), 1.0), r, mode="edge")
    lo, hi = tensor(near_grown), tensor(far_grown)
    inner = (slice(r, -r), slice(r, -r))
    with torch.no_grad():
        reflected = np.pad(grays[index], r, mode="reflect")
        ref = tensor(reflected[box[0].start:box[0].stop + 2 * r,
                               box[1].start:box[1].stop + 2 * r])[None, None]
        ref_mean = _box(ref)[0, 0]
        ref_var = (_box(ref * ref)[0, 0] - ref_mean ** 2).clamp_(min=0)
        images = [tensor(grays[j])[None, None] for j in nbrs]
        scores = torch.empty((hypotheses,) + tuple(todo.shape))
        moments = torch.empty((3 * n, 1) + tuple(ref.shape[-2:]))
        for k, s in enumerate(np.linspace(0.0, 1.0, hypotheses)):
            hom = P * (lo + (hi - lo) * float(s)) + q  # (n, 3, h, w): grid_sample's -1..1
            z = hom[:, 2:]
            xy = hom[:, :2] / z.clamp(min=1e-6)
            outside = (z[:, 0, r:-r, r:-r] <= 1e-6) | (xy[..., r:-r, r:-r].abs().amax(1) > 1)
            grid = xy.permute(0, 2, 3, 1)  # (n, h, w, 2)
            for j, (im, g) in enumerate(zip(images, grid)):
                moments[j] = F.grid_sample(im, g[None], mode="bilinear",
                                           padding_mode="zeros", align_corners=False)[0]
            warped = moments[:n]
            torch.mul(warped, warped, out=moments[n:2 * n])
            torch.mul(warped, ref, out=moments[2 * n:])
            m = _box(moments)[:, 0]
            mb, mbb, mab = m[:n], m[n:2 * n], m[2 * n:]
            var_b = (mbb - mb ** 2).clamp_(min=0)
            ncc = (mab - ref_mean * mb) / torch.sqrt(ref_var * var_b + 1e-8)
            ncc.masked_fill_(outside, -1.0)
            scores[k] = _best_two_mean(ncc) if keep < n else ncc.mean(dim=0)
        scores = scores.numpy()
        contrast = np.sqrt(ref_var.numpy())
    lo, hi = lo[inner].numpy(), hi[inner].numpy()
    k = scores.argmax(axis=0)
    best = np.take_along_axis(scores, k[None], 0)[0]
    # a parabola through the best and its two neighbours: a fraction of a step
    km, kp = np.clip(k - 1, 0, hypotheses - 1), np.clip(k + 1, 0, hypotheses - 1)
    sm = np.take_along_axis(scores, km[None], 0)[0]
    sp = np.take_along_axis(scores, kp[None], 0)[0]
    denom = sm - 2 * best + sp
    offset = np.where((k > 0) & (k < hypotheses - 1) & (denom < -1e-6),
                      0.5 * (sm - sp) / np.where(denom < -1e-6, denom, -1.0), 0.0)
    frac = (k + np.clip(offset, -0.5, 0.5)) / max(hypotheses - 1, 1)
    z = lo + (hi - lo) * frac
    ok = todo & (best >= MIN_SCORE) & (contrast >= MIN_STD)
    depth[box][ok] = z[ok]
    score[box][todo] = best[todo]
    return depth, score


def consistent(index, cameras, depths, tolerance, min_agree=None):
    """View ``index``'s depth map keeping only the pixels that at least ``min_agree`` of
    its neighbours' depth maps confirm: the point, seen from the neighbour, lies within
    ``tolerance`` (world units) of the neighbour's own depth there."""
    min_agree = MIN_AGREE if min_agree is None else min_agree
    cam, depth = cameras[index], depths[index]
    v, u = np.nonzero(np.isfinite(depth))
    if not len(u):
        return depth
    x = apply(np.linalg.inv(cam.K), np.stack([u + 0.5, v + 0.5, np.ones(len(u))], 1))
    world = apply(cam.R.T, x * depth[v, u][:, None] - cam.t)
    agree = np.zeros(len(u), np.int32)
    for j in neighbours(cameras, index, CHECK_NEIGHBOURS):
        other, d = cameras[j], depths[j]
        uv, z = other.project(world)
        h, w = d.shape
        inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        xi = np.clip(uv[:, 0].astype(np.int64), 0, w - 1)
        yi = np.clip(uv[:, 1].astype(np.int64), 0, h - 1)
        dj = d[yi, xi]
        agree += inside & np.isfinite(dj) & (np.abs(dj - z) < tolerance)
    out = depth.copy()
    bad = agree < min_agree
    out[v[bad], u[bad]] = np.nan
    return out


#: the weight in the fusion of a depth filled in (:func:`fill_enclosed`), against the
#: photo-consistency scores (-1..1) of measured ones
FILLED_WEIGHT = 0.05
#: the share of a gap's measured edge, the nearest, that :func:`fill_enclosed` leaves out
#: inside a concavity.  Measured on the benchmark's sets with their true cameras and masks:
#: the mug F@1% 0.928 -> 0.955, F@2% 0.963 -> 0.992 (a half: 0.903 / 0.992, a tenth:
#: 0.937 / 0.971), the L-block 0.874 -> 0.877, the torus and box unchanged
OCCLUDING_SHARE = 0.25


def _concave(fill, labels, depth, known, near, margin):
    """The gaps of ``fill`` whose measured edge lies behind the hull (``near``) by more
    than ``margin`` (its lower quartile): inside a concavity the silhouettes do not see.
    Elsewhere (a convex edge, where the hull is tight) a smooth fill would lie behind
    the true surface and cut into it."""
    from scipy import ndimage

    ring = ndimage.binary_dilation(fill) & known
    owner = ndimage.grey_dilation(np.where(fill, labels, 0), size=3) * ring
    keep = [k for k in np.unique(owner[owner > 0])
            if np.quantile((depth - near)[owner == k], 0.25) > margin]
    return fill & np.isin(labels, keep)


def fill_enclosed(depth, region, near=None, margin=0.0):
    """``(depth, filled)``: the depth map with the gaps that measured depths enclose
    inside ``region`` (the view's mask) filled by the smoothest surface through their
    edges (Laplace's equation, the measured depths as its boundary), and which pixels
    were filled.  A gap that reaches the mask's outline is left (its far side is not
    known), and with ``near`` (the hull's entry depth) so is one outside a concavity
    (:func:`_concave`).  Why: a cup's bottom is dark and few views see it; its depths
    are missing, and the fusion left the cup's lower half solid, while the walls around
    it are measured (the benchmark's mug with its true cameras: F@1% 0.80 -> 0.93).

    Inside a concavity the nearest part of a gap's edge (:data:`OCCLUDING_SHARE`) is not
    used: it is, as often as not, the near rim that hides the gap, and the surface goes
    on deeper behind it (the fill then left a mound on the cup's bottom)."""
    from scipy import ndimage, sparse
    from scipy.sparse.linalg import spsolve

    known = np.isfinite(depth)
    gaps = region & ~known
    labels, n = ndimage.label(gaps)
    if not n:
        return depth, np.zeros_like(known)
    outline = ndimage.binary_dilation(~region, border_value=1) & gaps
    fill = gaps & ~np.isin(labels, np.unique(labels[outline]))
    if near is not None and fill.any():
        fill = _concave(fill, labels, depth, known, near, margin)
    if not fill.any():
        return depth, fill
    # the 5-point Laplacian over the gap's pixels, measured neighbours on the right side
    h, w = depth.shape
    index = np.full((h, w), -1, np.int64)
    ys, xs = np.nonzero(fill)
    m = len(ys)
    index[ys, xs] = np.arange(m)
    padded = np.pad(depth, 1, constant_values=np.nan)
    pindex = np.pad(index, 1, constant_values=-1)
    steps = ((0, 1), (0, -1), (1, 0), (-1, 0))
    edge = [padded[ys + 1 + dy, xs + 1 + dx] for dy, dx in steps]
    # (inside a concavity, each pixel's gap's edge nearer than its cut is not used)
    lowest = _edge_cut(edge, labels[ys, xs], n)[labels[ys, xs]] if near is not None \
        else np.full(m, -np.inf)
    rows, cols = [np.arange(m)], [np.arange(m)]
    rhs, degree = np.zeros(m), np.zeros(m)
    for (dy, dx), value in zip(steps, edge):
        other = pindex[ys + 1 + dy, xs + 1 + dx]
        gap = other >= 0
        measured = np.isfinite(value) & (np.where(np.isfinite(value), value, -np.inf) >= lowest)
        rows.append(np.flatnonzero(gap))
        cols.append(other[gap])
        rhs[measured] += value[measured]
        degree += gap | measured
    values = np.concatenate([degree, -np.ones(sum(len(r) for r in rows[1:]))])
    A = sparse.csr_matrix((values, (np.concatenate(rows), np.concatenate(cols))), (m, m))
    out = depth.copy()
    out[ys, xs] = spsolve(A, rhs)
    return out, fill


def _edge_cut(edge, owner, n):
    """Per gap label (0..n), the depth below which its measured edge is not used: the
    :data:`OCCLUDING_SHARE` quantile of the depths next to its pixels (``edge``: one
    array per neighbour direction, ``owner``: the gap pixels' labels)."""
    from scipy import ndimage

    values = np.concatenate(edge)
    labels = np.tile(owner, len(edge))
    ok = np.isfinite(values)

    def quantile(v):
        return np.sort(v)[int(OCCLUDING_SHARE * (len(v) - 1))]

    return ndimage.labeled_comprehension(values[ok], labels[ok], np.arange(n + 1), quantile,
                                         np.float64, -np.inf)
