"""Depth: learned models (tiny random ones, built here), model resolution and its errors,
and the conversions relative -> metric and silhouette inflation with known answers."""

import os
import shutil

import numpy as np
import pytest

from blender_img2mesh.pipeline.geometry import camera
from blender_img2mesh.pipeline.depth import convert
from blender_img2mesh.pipeline import models
from blender_img2mesh.pipeline.depth.estimate import DepthEstimator
from blender_img2mesh.pipeline.errors import Img2MeshError, ModelUnavailable

FAST = ["--max-size", "128", "--poisson-depth", "6", "--offline"]


# ---------------------------------------------------------------- learned models


@pytest.mark.parametrize("name,model_type,kind", [
    ("glpn", "glpn", "metric"),
    ("depth_anything", "depth_anything", "relative"),
    ("depth_anything_metric", "depth_anything", "metric"),
    ("dpt", "dpt", "relative"),
])
def test_estimator_loads_and_predicts(tiny_models, astronaut_small, name, model_type, kind):
    est = DepthEstimator(tiny_models[name], "cpu")
    assert est.model_type == model_type and est.kind == kind and est.device == "cpu"
    raw, fov = est.predict(astronaut_small)
    assert raw.shape == astronaut_small.shape[:2] and raw.dtype == np.float32
    assert np.isfinite(raw).all()
    assert np.ptp(raw) > 0, "the model's output is constant"


@pytest.mark.parametrize("name,kind", [
    ("glpn", "metric"), ("depth_anything", "relative"), ("dpt", "relative"),
])
def test_model_folder_end_to_end(tmp_path, run_job, photo, tiny_models, mesh_reader, name,
                                 kind):
    out = tmp_path / "cat.ply"
    result, events = run_job([photo("chelsea.png"), "-o", out, "--keep-background",
                              "--depth-model", tiny_models[name], *FAST])
    assert result["depth_kind"] == kind
    assert result["depth_model"] == tiny_models[name]
    assert result["faces"] > 100 and os.path.isfile(out)
    V, T, _ = mesh_reader(out)
    assert len(V) == result["vertices"] and len(T) == result["faces"]
    stages = [e["stage"] for e in events if e["event"] == "progress"]
    assert "depth" in stages and "segment" not in stages
    assert not [e for e in events if e["event"] == "warning"]


def test_model_found_by_hub_name_in_models_dir(tmp_path, run_job, photo, tiny_models):
    """A hub id resolves to ``<models-dir>/org--name`` without any download."""
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    os.symlink(tiny_models["glpn"], models_dir / "vinvino02--glpn-nyu")
    result, _ = run_job([photo("chelsea.png"), "-o", tmp_path / "x.ply", "--keep-background",
                         "--depth-model", "glpn-nyu", "--models-dir", models_dir, *FAST])
    assert result["depth_model"] == "vinvino02/glpn-nyu"
    assert result["depth_kind"] == "metric"


def test_metric_model_with_thickness_is_rescaled(tmp_path, run_job, photo, tiny_models):
    result, _ = run_job([photo("chelsea.png"), "-o", tmp_path / "x.ply", "--keep-background",
                         "--depth-model", tiny_models["glpn"], "--thickness", "0.3",
                         "--frame", "camera", *FAST])
    (x0, y0, z0), (x1, y1, z1) = result["bounds"]
    assert 0.1 < (z1 - z0) / max(x1 - x0, y1 - y0) < 0.6


# ---------------------------------------------------------------- resolution errors


def test_offline_hub_model_is_unavailable(tmp_path):
    with pytest.raises(ModelUnavailable) as info:
        models.resolve_depth_model("someorg/somemodel", str(tmp_path), allow_download=False)
    assert "someorg/somemodel" in info.value.message
    assert info.value.kind == "model"


@pytest.mark.parametrize("offline", [True, False])
def test_cli_hub_model_not_downloadable(tmp_path, cli, photo, offline):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    argv = [photo("coffee.png"), "-o", out_dir / "x.ply", "--keep-background", "-q",
            "--depth-model", "someorg/somemodel", "--models-dir", models_dir]
    proc = cli(argv + (["--offline"] if offline else []), timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "someorg/somemodel" in lines[0]
    assert "Traceback" not in proc.stderr
    assert os.listdir(out_dir) == []
    assert os.listdir(models_dir) == [], "a failed download left files in the models folder"


@pytest.mark.parametrize("name,pattern", [
    ("not-a-model", "unknown depth model 'not-a-model'"),
    ("a/b/c", "model folder not found"),
    ("./no/such/folder", "model folder not found"),
])
def test_unknown_model_names(tmp_path, name, pattern):
    with pytest.raises(Img2MeshError, match=pattern) as info:
        models.resolve_depth_model(name, str(tmp_path), allow_download=False)
    assert info.value.kind == "model"


def test_folder_without_config_is_refused(tmp_path):
    folder = tmp_path / "empty_model"
    folder.mkdir()
    with pytest.raises(Img2MeshError, match="no config.json"):
        models.resolve_depth_model(str(folder), str(tmp_path), allow_download=False)


def test_folder_with_broken_weights_is_a_clear_error(tmp_path, run_job, photo, tiny_models):
    folder = tmp_path / "broken"
    folder.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copy(os.path.join(tiny_models["glpn"], name), folder / name)
    (folder / "model.safetensors").write_bytes(b"not really weights")
    with pytest.raises(Img2MeshError, match="cannot load depth model") as info:
        run_job([photo("chelsea.png"), "-o", tmp_path / "x.ply", "--keep-background",
                 "--depth-model", folder, *FAST])
    assert info.value.kind == "model"
    assert not (tmp_path / "x.ply").exists()


def test_unknown_alias_end_to_end(tmp_path, run_job, photo):
    with pytest.raises(Img2MeshError, match="unknown depth model") as info:
        run_job([photo("chelsea.png"), "-o", tmp_path / "x.ply", "--keep-background",
                 "--depth-model", "depth-anything-v9-huge", *FAST])
    assert "depth-anything-v2-small" in info.value.hint  # says what would work
    assert not (tmp_path / "x.ply").exists()


def test_auto_without_model_falls_back_to_inflation(tmp_path, run_job, photo,
                                                    models_dir_with_u2netp):
    out = tmp_path / "coffee.ply"
    result, events = run_job([photo("coffee.png"), "-o", out, "--models-dir",
                              models_dir_with_u2netp, *FAST])
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    assert len(warnings) == 1 and "inflation" in warnings[0], warnings
    assert models.DEFAULT_DEPTH_MODEL in warnings[0]
    assert result["depth_model"] == "inflate" and result["mask"] == "u2netp"
    assert result["faces"] > 100 and out.is_file()


# ---------------------------------------------------------------- known answers


def _sphere_disparity(scene, w=160, h=120, fov=50.0):
    f = camera.focal_px(w, h, fov)
    z, hit = scene.sphere_depth(w, h, fov, (0.0, 0.0, 3.0), 0.8)
    return 1.0 / z, hit, f


def test_relative_to_depth_near_and_far(scene):
    disp, mask, f = _sphere_disparity(scene)
    thickness = 0.5
    z = convert.relative_to_depth(disp * 7.0 + 3.0, mask, f, thickness)  # any scale and shift
    ys, xs = np.nonzero(mask)
    size_px = max(np.ptp(xs), np.ptp(ys)) + 1
    z_far = convert.Z_NEAR + thickness * size_px * convert.Z_NEAR / f
    near, far = np.percentile(z[mask], [1.0, 99.0])
    assert near == pytest.approx(convert.Z_NEAR, rel=0.01)
    assert far == pytest.approx(z_far, rel=0.01)
    # inverse depth is an affine function of the disparity (all that it may change)
    sel = mask & (disp >= np.percentile(disp[mask], 1)) & (disp <= np.percentile(disp[mask], 99))
    A = np.stack([disp[sel], np.ones(sel.sum())], axis=1)
    coef, *_ = np.linalg.lstsq(A, 1.0 / z[sel], rcond=None)
    assert np.abs(A @ coef - 1.0 / z[sel]).max() < 1e-4
    assert coef[0] > 0  # larger disparity = nearer
    # twice the thickness, twice the depth range
    z2 = convert.relative_to_depth(disp, mask, f, 2 * thickness)
    far2 = np.percentile(z2[mask], 99.0)
    assert far2 - convert.Z_NEAR == pytest.approx(2 * (z_far - convert.Z_NEAR), rel=0.02)


def test_relative_to_depth_constant_input():
    mask = np.zeros((50, 60), bool)
    mask[10:40, 10:50] = True
    z = convert.relative_to_depth(np.full((50, 60), 0.7, np.float32), mask, 100.0, 0.5)
    assert np.allclose(z, convert.Z_NEAR)


def test_inflate_depth_disc_is_a_hemisphere():
    h = w = 201
    R = 80.0
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(xx - 100, yy - 100)
    disc = r < R
    f = 300.0
    z = convert.inflate_depth(disc, f, thickness=0.5)
    assert z[disc].min() == pytest.approx(convert.Z_NEAR, abs=1e-3)
    assert z[100, 100] == pytest.approx(convert.Z_NEAR, abs=2e-3)  # the centre is nearest
    # the visible depth is thickness x the disc's width: 0.5 makes it exactly as deep as
    # its radius (in scene units at the near distance) -- a hemisphere
    radius_units = R * convert.Z_NEAR / f
    height = (convert.Z_NEAR + radius_units - z) / radius_units
    # the profile is a circle's: height = sqrt(R^2 - r^2) / R
    inner = disc & (r < 0.95 * R)
    want = np.sqrt(1.0 - (r[inner] / R) ** 2)
    assert np.abs(height[inner] - want).max() < 0.04
    assert np.abs(height[inner] - want).mean() < 0.015
    rim = disc & (r >= 0.95 * R)
    assert np.abs(height[rim] - np.sqrt(1.0 - (r[rim] / R) ** 2)).mean() < 0.06
    # a thicker setting deepens it proportionally
    z2 = convert.inflate_depth(disc, f, thickness=1.0)
    assert (z2 - convert.Z_NEAR)[disc].max() == pytest.approx(2 * (z - convert.Z_NEAR)[disc].max(),
                                                            rel=1e-3)


def test_rescale_metric_sets_thickness():
    mask = np.zeros((100, 100), bool)
    mask[20:80, 20:80] = True
    yy, xx = np.mgrid[:100, :100]
    z = (2.0 + 0.01 * xx).astype(np.float32)
    f = 100.0
    out = convert.rescale_metric(z, mask, f, 0.4)
    near, far = np.percentile(out[mask], [1.0, 99.0])
    assert near == pytest.approx(np.percentile(z[mask], 1.0), rel=1e-4)
    assert far - near == pytest.approx(0.4 * convert.object_extent(mask, f, near), rel=1e-3)
