"""The accuracy benchmark's metrics (benchmarks/accuracy/metrics.py) on cases with known answers,
and the pipeline on an exact depth map: the benchmark's target (visible-surface
F-score@1% >= 0.95) on an analytic sphere, and a ring whose hole must stay open."""

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from benchmarks.accuracy import metrics as bm


def plane_points(n=60, z=0.0):
    g = (np.arange(n) + 0.5) / n
    x, y = np.meshgrid(g, g)
    pts = np.stack([x.ravel(), y.ravel(), np.full(n * n, z)], axis=1)
    return pts, np.tile([0.0, 0.0, 1.0], (n * n, 1))


def test_identical_sets_score_perfectly():
    P, N = plane_points()
    s = bm.score(P, N, P, N, [0.01, 0.02])
    assert s["accuracy"] == s["completeness"] == s["chamfer"] == 0.0
    assert s["f@0.01"] == s["f@0.02"] == 1.0
    assert s["nc"] == pytest.approx(1.0) and s["nc_signed"] == pytest.approx(1.0)


def test_known_offset_gives_known_chamfer_and_f_score():
    P, N = plane_points()
    Q = P + [0.0, 0.0, 0.015]  # every point 0.015 off, along the normal
    s = bm.score(Q, N, P, N, {"near": 0.01, "far": 0.02})
    assert s["accuracy"] == pytest.approx(0.015)
    assert s["completeness"] == pytest.approx(0.015)
    assert s["chamfer"] == pytest.approx(0.015)
    assert s["f@near"] == 0.0 and s["f@far"] == 1.0
    # half of the prediction missing: precision stays 1, recall halves
    half = P[:, 0] < 0.5
    s = bm.score(P[half], N[half], P, N, [0.001])
    assert s["p@0.001"] == 1.0 and s["r@0.001"] == pytest.approx(0.5)
    assert s["f@0.001"] == pytest.approx(2 * 0.5 / 1.5)
    assert s["accuracy"] == 0.0 and s["completeness"] > 0.1


def test_normal_consistency_is_unsigned_with_a_signed_twin():
    P, N = plane_points()
    flipped = bm.score(P, -N, P, N, [0.01])
    assert flipped["nc"] == pytest.approx(1.0) and flipped["nc_signed"] == pytest.approx(-1.0)
    across = bm.score(P, np.tile([1.0, 0.0, 0.0], (len(P), 1)), P, N, [0.01])
    assert across["nc"] == pytest.approx(0.0, abs=1e-12)
    tilted = bm.score(P, np.tile([0.0, 0.6, 0.8], (len(P), 1)), P, N, [0.01])
    assert tilted["nc"] == pytest.approx(0.8)


def test_sample_mesh_is_area_weighted_and_on_the_triangles():
    V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [10, 0, 5], [13, 0, 5], [10, 2, 5]], float)
    T = np.array([[0, 1, 2], [3, 4, 5]])  # areas 0.5 and 3
    P, N = bm.sample_mesh(V, T, 70000, seed=1)
    first = P[:, 2] == 0
    assert first.mean() == pytest.approx(0.5 / 3.5, abs=0.01)
    assert np.all(P[first, 0] + P[first, 1] <= 1 + 1e-12) and np.all(P[first, :2] >= 0)
    second = P[~first]
    assert np.allclose(second[:, 2], 5) and np.all((second[:, 0] - 10) / 3 + second[:, 1] / 2 <= 1
                                                + 1e-12)
    assert np.allclose(N, [0, 0, 1])  # counter-clockwise seen from +z
    # uniform inside a triangle: the mean is the centroid
    assert P[first].mean(0) == pytest.approx([1 / 3, 1 / 3, 0], abs=0.01)


def test_fit_scale_shift_recovers_a_known_scale_and_shift():
    rng = np.random.default_rng(0)
    d = rng.normal(size=(5000, 3))
    true = d / np.linalg.norm(d, axis=1, keepdims=True) * 0.5 + [0.2, -0.1, 4.0]
    pred = (true - [0, 0, 0.3]) / 2.5  # pred = (true - t e_z) / s
    s, t = bm.fit_scale_shift(pred, true)
    assert s == pytest.approx(2.5, rel=1e-3) and t == pytest.approx(0.3, abs=2e-3)
    assert np.allclose(bm.apply_scale_shift(pred, s, t), true, atol=5e-3)


def test_visible_from_origin_hides_what_is_behind():
    # a front square at z = 1 (x, y in [-0.1, 0.1]) and a big back square at z = 2
    V = np.array([[-.1, -.1, 1], [.1, -.1, 1], [.1, .1, 1], [-.1, .1, 1],
                  [-1, -1, 2], [1, -1, 2], [1, 1, 2], [-1, 1, 2]], float)
    T = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    pts = np.array([[0, 0, 1], [0, 0, 2], [0.3, 0, 2], [0.5, 0.5, 2], [0.19, 0.19, 2]])
    assert bm.visible_from_origin(V, T, pts).tolist() == [True, False, True, True, False]


# ----------------------------------------------------------------- the pipeline's accuracy

def _inputs(tmp_path, depth, alpha):
    rgba = np.zeros(depth.shape + (4,), np.uint8)
    rgba[..., :3] = 180
    rgba[..., 3] = np.where(alpha, 255, 0)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "image.png")
    np.save(tmp_path / "depth.npy", depth.astype(np.float32))
    return tmp_path / "image.png", tmp_path / "depth.npy"


def test_true_depth_sphere_meets_the_benchmark_target(tmp_path, scene, run_job, mesh_reader):
    """The exact depth of a sphere (0 = no surface) with an alpha a pixel wider than the
    hits (those pixels have no depth: they must be dropped, not fail the run)."""
    w, h, fov, c, r = 256, 192, 45.0, np.array([0.1, -0.05, 4.0]), 1.0
    z, hit = scene.sphere_depth(w, h, fov, c, r)
    image, depth = _inputs(tmp_path, np.where(hit, z, 0.0), ndimage.binary_dilation(hit))
    run_job([image, "-o", tmp_path / "out.ply", "--depth-map", depth, "--fov", fov,
             "--frame", "camera"])
    V, T, _ = mesh_reader(tmp_path / "out.ply")
    P, N = bm.sample_mesh(V, T, 50000)
    rng = np.random.default_rng(0)
    d = rng.normal(size=(200000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    S = c + r * d
    seen = np.einsum("ij,ij->i", d, S) < 0  # a sphere's visible part faces the camera
    scale = 1 / (2 * r)  # unit bounding box; thresholds: % of its diagonal sqrt(3)
    s = bm.score(P * scale, N, S[seen] * scale, d[seen], {"1%": 0.01 * 3 ** 0.5})
    assert s["p@1%"] > 0.99, s
    assert s["f@1%"] >= 0.95, s
    assert s["nc_signed"] > 0.95, s  # facing the camera, like the true visible normals


def test_a_ring_keeps_its_hole(tmp_path, scene, run_job, mesh_reader):
    """A given mask's holes are real (a ring): not filled, no surface across them."""
    w, h, fov = 200, 150, 40.0
    f = scene.focal(w, h, fov)
    yy, xx = np.mgrid[:h, :w] + 0.5
    rad = np.hypot(xx - w / 2, yy - h / 2)
    ring = (rad > 25) & (rad < 60)
    z = np.where(ring, 3.0, 0.0)  # a flat washer facing the camera, nothing in the hole
    image, depth = _inputs(tmp_path, z, ring)
    run_job([image, "-o", tmp_path / "out.ply", "--depth-map", depth, "--fov", fov,
             "--frame", "camera"])
    V, T, _ = mesh_reader(tmp_path / "out.ply")
    P, _ = bm.sample_mesh(V, T, 20000)
    u = P[:, 0] / P[:, 2] * f + w / 2
    v = P[:, 1] / P[:, 2] * f + h / 2
    rp = np.hypot(u - w / 2, v - h / 2)
    assert rp.min() > 24 and rp.max() < 61
    assert np.allclose(P[:, 2], 3.0, atol=1e-3)
