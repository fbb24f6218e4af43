"""Metrics for the accuracy benchmark: surface sampling, Chamfer, F-score, normal
consistency, visibility and the scale/shift alignment of non-metric reconstructions.

Plain numpy + scipy (``cKDTree``); open3d only for ray casting (:func:`visible_from_origin`).

Conventions (those of Occupancy Networks / "What do single-view 3D reconstruction networks
learn?", Tatarchenko et al. 2019):

* distances are Euclidean (L2) point-to-nearest-point distances between dense samples of
  the two surfaces; *accuracy* = mean distance predicted -> true, *completeness* = mean
  distance true -> predicted; Chamfer-L1 = their mean.
* F-score at threshold ``tau``: precision = share of predicted points within ``tau`` of the
  true surface, recall = share of true points within ``tau`` of the prediction,
  F = 2PR / (P + R).
* normal consistency: mean ``|n_pred . n_true|`` of nearest neighbours, both directions
  averaged; unsigned (orientation-free, so a flipped surface scores 1).  The signed mean
  is reported too (``nc_signed``): it shows inverted winding.
"""

import numpy as np
from scipy.spatial import cKDTree


def load_mesh(path):
    """(vertices float64 Nx3, triangles int64 Mx3) of a mesh file or an ``.npz`` with
    ``vertices`` and ``triangles``."""
    if path.endswith(".npz"):
        data = np.load(path)
        return data["vertices"].astype(np.float64), data["triangles"].astype(np.int64)
    import open3d as o3d

    mesh = o3d.io.read_triangle_mesh(path)
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles)


def sample_mesh(vertices, triangles, n, seed=0):
    """``n`` points uniformly by area on a triangle mesh, with unit face normals (by the
    triangles' winding).  Returns (points Nx3, normals Nx3)."""
    v = np.asarray(vertices, np.float64)
    t = np.asarray(triangles, np.int64)
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    cross = np.cross(b - a, c - a)
    dbl_area = np.linalg.norm(cross, axis=1)
    good = dbl_area > 0
    if not good.any():
        raise ValueError("the mesh has no triangle with an area")
    rng = np.random.default_rng(seed)
    face = rng.choice(np.flatnonzero(good), size=n, p=dbl_area[good] / dbl_area[good].sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    w0, w1, w2 = 1.0 - s, s * (1.0 - r2), s * r2
    pts = w0[:, None] * a[face] + w1[:, None] * b[face] + w2[:, None] * c[face]
    return pts, cross[face] / dbl_area[face][:, None]


def _unit(n):
    n = np.asarray(n, np.float64)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)


def score(pred, pred_normals, true, true_normals, taus):
    """Accuracy, completeness, Chamfer-L1, F-score / precision / recall at each ``tau``,
    normal consistency (unsigned and signed).  Point sets in the same units as ``taus``:
    a dict ``{label: threshold}`` (keys ``f@label``, ``p@label``, ``r@label``) or a list
    (labelled by the threshold's value)."""
    if not isinstance(taus, dict):
        taus = {f"{tau:g}": tau for tau in taus}
    pred = np.asarray(pred, np.float64)
    true = np.asarray(true, np.float64)
    if len(pred) == 0:
        out = {"accuracy": np.inf, "completeness": np.inf, "chamfer": np.inf,
               "nc": 0.0, "nc_signed": 0.0}
        for label in taus:
            out.update({f"f@{label}": 0.0, f"p@{label}": 0.0, f"r@{label}": 0.0})
        return out
    d_pt, i_pt = cKDTree(true).query(pred, workers=-1)  # pred -> true
    d_tp, i_tp = cKDTree(pred).query(true, workers=-1)  # true -> pred
    out = {"accuracy": float(d_pt.mean()), "completeness": float(d_tp.mean())}
    out["chamfer"] = 0.5 * (out["accuracy"] + out["completeness"])
    for label, tau in taus.items():
        p = float(np.mean(d_pt < tau))
        r = float(np.mean(d_tp < tau))
        out[f"p@{label}"], out[f"r@{label}"] = p, r
        out[f"f@{label}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    npred, ntrue = _unit(pred_normals), _unit(true_normals)
    dot_pt = np.einsum("ij,ij->i", npred, ntrue[i_pt])
    dot_tp = np.einsum("ij,ij->i", ntrue, npred[i_tp])
    out["nc"] = 0.5 * float(np.abs(dot_pt).mean() + np.abs(dot_tp).mean())
    out["nc_signed"] = 0.5 * float(dot_pt.mean() + dot_tp.mean())
    return out


def visible_from_origin(vertices, triangles, points, rel_tol=1e-4):
    """Which ``points`` (on the mesh) a camera at the origin sees: the ray from the origin
    through each point hits the mesh first at (about) that point."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(np.asarray(vertices, np.float32), np.asarray(triangles, np.uint32))
    p = np.asarray(points, np.float64)
    dist = np.linalg.norm(p, axis=1)
    rays = np.zeros((len(p), 6), np.float32)
    rays[:, 3:] = p / np.maximum(dist, 1e-30)[:, None]
    hit = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    return hit >= dist * (1.0 - rel_tol) - 1e-9


def fit_scale_shift(pred, true, iters=50, trim=0.9, shift=True, max_points=20000):
    """Scale about the camera centre (the origin) and shift along the optical axis
    (z) that best put ``pred`` onto ``true``: trimmed symmetric ICP restricted to those two
    parameters.  Returns (s, t); apply as ``s * p + (0, 0, t)``.

    Why these two: a depth map without metric scale (relative models, inflation, the
    prototype's 8-bit squeeze) still reprojects through the right pixels, so the unknown is
    the distance: scaling about the camera centre keeps every point on its pixel's ray.
    The shift along z absorbs the unknown offset of an inverse-depth (affine) prediction.
    Nothing else (no rotation, no x/y shift, no anisotropic scale) is fitted.
    """
    rng = np.random.default_rng(0)
    pred = np.asarray(pred, np.float64)
    true = np.asarray(true, np.float64)
    if len(pred) > max_points:
        pred = pred[rng.choice(len(pred), max_points, replace=False)]
    if len(true) > max_points:
        true = true[rng.choice(len(true), max_points, replace=False)]
    s = float(np.median(np.linalg.norm(true, axis=1)) /
              max(np.median(np.linalg.norm(pred, axis=1)), 1e-30))
    t = 0.0
    tree_true = cKDTree(true)
    for _ in range(iters):
        cur = pred * s
        cur[:, 2] += t
        d1, i1 = tree_true.query(cur, workers=-1)
        d2, i2 = cKDTree(cur).query(true, workers=-1)
        k1 = d1 <= np.quantile(d1, trim)
        k2 = d2 <= np.quantile(d2, trim)
        P = np.vstack([pred[k1], pred[i2[k2]]])  # unscaled predicted points
        Q = np.vstack([true[i1[k1]], true[k2]])  # their true partners
        if shift:
            A = np.array([[np.sum(P * P), P[:, 2].sum()], [P[:, 2].sum(), len(P)]])
            b = np.array([np.sum(P * Q), Q[:, 2].sum()])
            s_new, t_new = np.linalg.solve(A, b)
        else:
            s_new, t_new = np.sum(P * Q) / np.sum(P * P), 0.0
        done = abs(s_new - s) < 1e-6 * abs(s) and abs(t_new - t) < 1e-6 * abs(s)
        s, t = float(s_new), float(t_new)
        if done:
            break
    return s, t


def apply_scale_shift(points, s, t):
    out = np.asarray(points, np.float64) * s
    out[:, 2] += t
    return out
