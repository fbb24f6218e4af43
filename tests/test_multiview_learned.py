"""Learned depth as weak evidence of a ``--views`` surface (pipeline/multiview/learned.py):
the robust alignment of a model's output to a view's known depths (scale and shift, with
outliers), the sparse points a view does not see left out, the aligned depth entering the
fusion only where the plane sweep has none, and a whole ``--views`` job with a tiny
random depth model that ``--depth-model auto`` finds in the models folder."""

import json
import os
import shutil

import multiview_scene as scene
import numpy as np
import pytest

from blender_img2mesh.pipeline import catalog
from blender_img2mesh.pipeline.errors import ModelUnavailable
from blender_img2mesh.pipeline.multiview import learned
from blender_img2mesh.pipeline.multiview.cameras import Camera

#: the scale and shift a model's output is off by: relative (inverse depth), metric
AFFINE = {"relative": (2.5, -0.15), "metric": (0.8, 0.5)}


def _sphere_view(size=(160, 120), focal=150.0, distance=5.0, radius=1.0):
    """A camera on -Y looking at a sphere at the origin: ``(camera, depth, back, mask)``:
    the camera z where each pixel's ray enters and leaves the sphere (NaN off it)."""
    R, t = scene.look_at((0.0, -distance, 0.0), (0.0, 0.0, 0.0))
    w, h = size
    cam = Camera([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], R, t, size)
    d = cam.rays((h, w))
    c = cam.centre
    half = d @ -c  # |c + s d|^2 = r^2
    disc = half ** 2 - (c @ c - radius ** 2)
    root = np.sqrt(np.maximum(disc, 0))
    cos = d @ R[2]
    hit = disc > 0
    front = np.where(hit, (half - root) * cos, np.nan).reshape(h, w)
    back = np.where(hit, (half + root) * cos, np.nan).reshape(h, w)
    return cam, front, back, hit.reshape(h, w)


def _model_output(depth, kind):
    """What a model would give: an affine function of the true inverse depth (relative) or
    depth (metric), with :data:`AFFINE`'s scale and shift; a constant off the object."""
    a, b = AFFINE[kind]
    target = 1.0 / depth if kind == "relative" else depth
    return np.where(np.isfinite(depth), (target - b) / a, 0.0).astype(np.float32)


def _sphere_points(count, radius=1.0, seed=0):
    """Points evenly spread on the sphere (all sides)."""
    p = np.random.default_rng(seed).normal(size=(count, 3))
    return radius * p / np.linalg.norm(p, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["relative", "metric"])
def test_the_alignment_recovers_a_known_scale_and_shift(kind):
    cam, truth, _, mask = _sphere_view()
    raw = _model_output(truth, kind)
    rng = np.random.default_rng(1)
    # the model wrong on patches covering about a quarter of the object (its outliers)
    h, w = mask.shape
    yy, xx = np.mgrid[:h, :w]
    wrong = np.zeros_like(mask)
    for cy, cx in rng.uniform((0.3 * h, 0.3 * w), (0.7 * h, 0.7 * w), (3, 2)):
        wrong |= (yy - cy) ** 2 + (xx - cx) ** 2 < (0.09 * h) ** 2
    wrong &= mask
    assert 0.15 < wrong.sum() / mask.sum() < 0.45
    corrupt = raw.copy()
    corrupt[wrong] = rng.uniform(raw[mask].min(), raw[mask].max(), wrong.sum())
    # known depths: COLMAP's points on the visible side (slightly noisy), the plane sweep
    # measured half the pixels, the hull's entry is the sphere (a convex object)
    points = _sphere_points(600)
    points = points[points[:, 1] < -0.1]
    points = points * (1 + 1e-4 * rng.normal(size=(len(points), 1)))
    measured = np.where(rng.uniform(size=mask.shape) < 0.5, truth, np.nan)
    made = learned.align_view(cam, corrupt, kind, mask, measured, truth - 1e-3, points, 0.02)
    assert made is not None
    depth, inliers = made
    assert inliers >= learned.MIN_SAMPLES
    good = mask & ~wrong
    rel = np.abs(depth[good] - truth[good]) / truth[good]
    assert rel.max() < 0.01, rel.max()
    assert np.isnan(depth[~mask]).all()
    # the fit itself, from samples a third of which are wrong: the scale and shift back
    u, v, z = learned.stereo_samples(np.where(mask, truth, np.nan))
    r = learned.sample(raw, u, v)
    bad = rng.uniform(size=len(r)) < 0.33
    r[bad] = rng.uniform(r.min(), r.max(), bad.sum())
    a, b, kept = learned.fit(r * (1 + 1e-3 * rng.normal(size=len(r))), z, kind)
    assert np.allclose((a, b), AFFINE[kind], rtol=0.01, atol=0.005)
    assert not kept[bad & (np.abs(learned.to_depth(r, a, b, kind) / z - 1) > 0.05)].any()


def test_a_model_without_enough_agreement_aligns_no_view():
    cam, truth, _, mask = _sphere_view()
    u, v, z = learned.stereo_samples(np.where(mask, truth, np.nan))
    noise = np.random.default_rng(2).uniform(size=len(z))
    assert learned.fit(noise, z, "relative") is None  # explains nothing
    assert learned.fit(np.full(len(z), 3.0), z, "relative") is None  # flat
    raw = learned.sample(_model_output(truth, "relative"), u, v)
    assert learned.fit(raw[:learned.MIN_SAMPLES - 1], z[:learned.MIN_SAMPLES - 1],
                       "relative") is None  # too few
    assert learned.fit(-raw, z, "relative") is None  # nearer would be farther


def test_points_behind_the_surface_are_not_used():
    cam, truth, back, mask = _sphere_view()
    points = _sphere_points(900, seed=3)
    # the side the camera (on -Y) sees (its silhouette is at y = -0.2: grazing there), and
    # the far side, projected inside the silhouette but occluded
    front, behind = points[:, 1] < -0.4, points[:, 1] > 0.2
    # measured depths on the left half only; the hull's entry is the sphere
    measured = truth.copy()
    measured[:, : mask.shape[1] // 2] = np.nan
    floating = np.array([[0.0, -1.5, 0.0]])  # in front of the surface: no point of it
    u, v, zs = learned.point_samples(cam, np.vstack([points, floating]), mask, measured,
                                     truth, 0.05)
    assert len(zs) >= 0.9 * front.sum()
    on = truth[v.astype(int), u.astype(int)]  # all on the surface the view sees ...
    assert np.abs(zs - on).max() <= 0.05
    for hidden in (points[behind], floating):  # ... none from behind, none floating
        assert not len(learned.point_samples(cam, hidden, mask, measured, truth, 0.05)[2])
    assert len(learned.point_samples(cam, points[behind], mask, np.full_like(truth, np.nan),
                                     truth, 0.05)[2]) == 0  # (by the hull's entry alone)
    # the alignment from points of which two thirds lie behind: right (they are left out)
    raw = _model_output(truth, "relative")
    both = np.vstack([points[front], np.repeat(points[behind], 2, axis=0)])
    depth, inliers = learned.align_view(cam, raw, "relative", mask, measured, truth,
                                        both, 0.05)
    assert inliers <= front.sum()
    assert np.nanmax(np.abs(depth[mask] / truth[mask] - 1)) < 0.01


def test_learned_depth_enters_only_where_the_plane_sweep_has_none():
    cam, truth, back, mask = _sphere_view()
    h, w = mask.shape
    measured = truth.astype(np.float32)  # (as the plane sweep's maps)
    measured[:, w // 2:] = np.nan  # the right half unmeasured
    near, far = truth - 0.01, back
    near[: h // 3] = truth[: h // 3] + 0.5  # the top third: the hull says farther
    scores = np.where(np.isfinite(measured), 0.8, -1.0).astype(np.float32)
    views = learned.ViewsDepth([_model_output(truth, "metric")], "metric", None)
    depths, score_list = [measured.copy()], [scores.copy()]
    count = learned.add_views(views, [cam], [mask], [measured], depths, score_list, [near],
                              [far], 0.02)
    assert count == 1
    depth, score = depths[0], score_list[0]
    filled = mask & np.isnan(measured) & (near <= truth)
    assert filled.sum() > 0.2 * mask.sum()
    np.testing.assert_allclose(depth[filled], truth[filled], rtol=1e-3)
    assert (score[filled] == learned.LEARNED_WEIGHT).all()
    measured_px = np.isfinite(measured)
    assert (depth[measured_px] == measured[measured_px]).all()  # measured depths kept
    assert (score[measured_px] == 0.8).all()
    assert np.isnan(depth[~mask]).all()
    assert np.isnan(depth[mask & np.isnan(measured) & (near > truth)]).all()  # out of range


# ---------------------------------------------------------------- the model, and a whole job


def test_auto_uses_no_model_it_would_download_and_says_nothing(tmp_path):
    from blender_img2mesh.pipeline.cli import parse_args
    from blender_img2mesh.pipeline.job import Job
    from blender_img2mesh.pipeline.progress import Reporter

    photos = [str(tmp_path / f"{k}.png") for k in range(3)]
    for option in ([], ["--depth-model", "inflate"]):
        args = parse_args(["--views", *photos, "--models-dir", str(tmp_path / "models"),
                           *option])  # (downloads allowed: auto still never downloads)
        reporter = Reporter()
        assert learned.estimator(Job.from_args(args), reporter, {}) == (None, None)
        assert reporter.events == []
    # a model asked for by name is loaded as for one photo: missing offline, an error
    args = parse_args(["--views", *photos, "--models-dir", str(tmp_path / "models"),
                       "--offline", "--depth-model", catalog.DEFAULT_DEPTH_MODEL])
    with pytest.raises(ModelUnavailable):
        learned.estimator(Job.from_args(args), Reporter(), {})




@pytest.fixture(scope="module")
def models_with_tiny_depth(tmp_path_factory):
    """A models folder holding a tiny random Depth Anything V2 as the default depth
    model's ONNX repository (where ``--depth-model auto`` looks first)."""
    from tiny_onnx_repo import build

    root = tmp_path_factory.mktemp("learned")
    repo, _ = build(str(root / "tiny"), variants=False)
    models = root / "models"
    repo_id = catalog.DEPTH_ONNX_REPOS[catalog.DEFAULT_DEPTH_MODEL]
    shutil.copytree(repo, models / repo_id.replace("/", "--"))
    return models, repo_id


def test_views_with_a_local_depth_model_use_it(models_with_tiny_depth, tmp_path, cli):
    models, repo_id = models_with_tiny_depth
    paths, _, _ = scene.render_set(str(tmp_path / "photos"), "cup", 12, masks=False,
                                   alpha=True)
    os.remove(tmp_path / "photos" / "cameras.json")
    out = tmp_path / "object.ply"
    proc = cli(["--views", *paths, "-o", str(out), "--json", "--offline", "--models-dir",
                str(models), "--target-faces", "3000", "--texture-size", "256"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert not [e for e in events if e["event"] == "warning" and "inflat" in e["message"]]
    messages = [e.get("message") for e in events if e.get("stage") == "depth"]
    side = json.loads((tmp_path / "object.json").read_text())
    n = len(side["registered"])
    assert f"Estimating depth ({n}/{n})" in messages
    assert side["watertight"] is True and side["camera_method"] == "colmap"
    assert side["learned_depth"]["model"] == repo_id
    assert 0 <= side["learned_depth"]["views"] <= n
    import trimesh

    mesh = trimesh.load(out, process=True)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert mesh.is_watertight and mesh.volume > 0
