"""The multi-view benchmark's measures (benchmarks/multiview/eval.py, hull.py,
run.py) on a synthetic set with known answers: a coloured sphere seen by 12 cameras
on a ring above it, rendered by the pipeline's own ray caster (so the truth images and the
scoring renderer agree exactly)."""

import json
import os

import numpy as np
import pytest
import trimesh
from PIL import Image

from benchmarks.multiview import run as mv
from benchmarks.multiview import eval as ev
from benchmarks.multiview import hull

W, H, F, RADIUS, BACKGROUND = 96, 72, 90.0, 0.8, (235, 235, 235)


def look_at(centre):
    """World-to-camera (R, t), OpenCV axes, upright (Z up), looking at the origin."""
    z = -np.asarray(centre, float) / np.linalg.norm(centre)
    x = np.cross(z, [0, 0, 1.0])
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])
    return R, -R @ centre


def ring(n, elevation, dist=3.5, offset=0.0):
    cams = []
    for k in range(n):
        a, e = np.radians(360.0 * k / n + offset), np.radians(elevation)
        c = dist * np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
        R, t = look_at(c)
        cams.append({"K": np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1.0]]), "R": R, "t": t})
    return cams


def sphere():
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=RADIUS)
    V = np.asarray(mesh.vertices)
    colors = 127.5 + 127.5 * np.stack([np.sin(9 * V[:, 0]), np.cos(7 * V[:, 1]),
                                       np.sin(5 * V[:, 2] + 1)], axis=1)
    return V, np.asarray(mesh.faces), colors


def write_views(folder, cams, prefix, V, T, colors):
    os.makedirs(os.path.join(folder, "images"))
    os.makedirs(os.path.join(folder, "masks"))
    table = {}
    for k, cam in enumerate(cams):
        rgb, hit = ev.view(V, T, cam, (W, H), colors=colors, background=BACKGROUND)
        name = f"{prefix}_{k:02d}.png"
        Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8)).save(
            os.path.join(folder, "images", name))
        Image.fromarray((hit * 255).astype(np.uint8)).save(os.path.join(folder, "masks", name))
        table[name] = {q: np.asarray(cam[q]).tolist() for q in ("K", "R", "t")}
    with open(os.path.join(folder, "cameras.json"), "w") as fh:
        json.dump(table, fh)


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("mvset"))
    V, T, colors = sphere()
    write_views(folder, ring(12, 30), "view", V, T, colors)
    write_views(os.path.join(folder, "heldout"), ring(3, 45, offset=20), "held", V, T, colors)
    trimesh.Trimesh(V, T, process=False).export(os.path.join(folder, "mesh.ply"))
    with open(os.path.join(folder, "scene.json"), "w") as fh:
        json.dump({"object": "sphere", "width": W, "height": H, "focal_px": F,
                   "background_srgb": list(BACKGROUND), "bbox_min": V.min(0).tolist(),
                   "bbox_max": V.max(0).tolist(),
                   "diagonal": float(np.linalg.norm(V.max(0) - V.min(0)))}, fh)
    data = ev.load_set(folder)
    data["colors"] = colors
    return data


def test_umeyama_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(20, 3))
    R0 = trimesh.transformations.random_rotation_matrix(rng.random(3))[:3, :3]
    s, R, t = ev.umeyama(src, 2.5 * src @ R0.T + [1, -2, 3])
    assert s == pytest.approx(2.5) and np.allclose(R, R0) and np.allclose(t, [1, -2, 3])


def test_ceiling():
    assert ev.f_ceiling(1.0) == 1.0 and ev.f_ceiling(0.5) == pytest.approx(2 / 3)


def test_seen_share_misses_the_underside_until_a_ring_looks_from_below(truth):
    V, T = truth["vertices"], truth["triangles"]
    above = ev.seen_share(V, T, truth["cameras"], (W, H), n=40000)
    # a ring 30 degrees up at 3.5 radii-ish: the bottom cap is seen by none
    assert 0.6 < above < 0.95
    below = {f"b{k}": c for k, c in enumerate(ring(12, -30))}
    assert ev.seen_share(V, T, {**truth["cameras"], **below}, (W, H), n=40000) > 0.99


def test_truth_through_its_own_held_out_cameras_is_exact(truth):
    rows, renders = ev.heldout(truth["vertices"], truth["triangles"], truth,
                               colors=truth["colors"])
    assert len(rows) == 3 and all(r["iou"] == 1.0 for r in rows)
    assert all(r["psnr"] > 45 for r in rows)
    assert renders["held_00.png"].shape == (H, W, 3)


def test_visual_hull_holds_the_sphere(truth):
    V, T = hull.carve(truth, resolution=64)
    # the hull contains the sphere (to half a pixel: 0.02 at this distance) and touches
    # it around the ring's reach; its cones above and below make it larger there
    dist = np.linalg.norm(V, axis=1) - RADIUS
    assert dist.min() > -0.02
    equator = np.abs(V[:, 2]) < 0.1
    assert np.abs(dist[equator]).max() < 0.03
    s = ev.geometry(V, T, truth, n=30000)
    assert s["r@2%"] > 0.9 and s["f@2%"] > 0.8
    colors = hull.colour(V, T, truth)
    rows, _ = ev.heldout(V, T, truth, colors=colors)
    assert all(r["iou"] > 0.9 for r in rows) and all(r["psnr"] > 15 for r in rows)


def test_a_result_in_another_frame_is_aligned_on_its_cameras(truth, tmp_path):
    """A perfect result written in a scaled, turned, shifted frame with its sidecar
    cameras in that frame: aligned back, it scores as the truth does."""
    R0 = trimesh.transformations.rotation_matrix(0.7, [1, 2, 3])[:3, :3]
    s0, t0 = 1.7, np.array([0.3, -1.0, 2.0])
    V = s0 * truth["vertices"] @ R0.T + t0
    mesh = trimesh.Trimesh(V, truth["triangles"], process=False,
                           vertex_colors=np.c_[truth["colors"], np.full(len(V), 255)]
                           .astype(np.uint8))
    mesh.export(tmp_path / "object.ply")
    cams = {}
    for name, c in truth["cameras"].items():
        R = c["R"] @ R0.T
        cams[name] = {"K": c["K"].tolist(), "R": R.tolist(), "t": (s0 * c["t"] - R @ t0).tolist()}
    run = {"seconds": 1.0, "peak_mb": 100.0, "mesh": str(tmp_path / "object.ply"), "log": [],
           "sidecar": {"cameras": cams, "timings": {"cameras": 0.5}}}
    row, renders = mv.score_method(truth, run)
    assert row["registered"] == 1.0 and row["centre_err"] < 1e-9
    assert row["f@1%"] > 0.99 and row["iou"] > 0.99 and row["psnr"] > 35
    assert row["timings"] == {"cameras": 0.5}
    assert mv.table({"sphere": {"seen": 0.8, "methods": {"ours": row}}}).count("| sphere |") == 1
