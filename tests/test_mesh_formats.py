"""The mesh formats with known answers: the sphere scene written as .obj and .glb (read
back by trimesh and open3d), glTF's linear vertex colours, the sidecar."""

import json
import os

import numpy as np
import pytest
from PIL import Image

import geometry_scenes as scenes
from geometry_scenes import H, W, sphere_args

quad_photo, sphere_map = scenes.quad_photo, scenes.sphere_map  # the shared fixtures


@pytest.mark.parametrize("ext", [".obj", ".glb"])
def test_obj_and_glb_outputs(tmp_path, run_job, quad_photo, sphere_map, read_any_mesh, ext):
    out = tmp_path / f"sphere{ext}"
    result, _ = run_job(sphere_args(quad_photo, sphere_map, out))
    assert result["mesh"] == str(out) and out.is_file()
    V, T, C = read_any_mesh(out)
    assert len(T) == result["faces"] and len(T) > 500
    assert len(V) >= result["vertices"] * 0.99
    if ext == ".glb":  # the texture, no COLOR_0 (glTF would multiply them)
        assert len(C) == 0 and result["color"] == "texture"
    else:
        assert len(C) == len(V) and C.max() > 0.5
    ext_ = np.ptp(V, axis=0)
    assert ext_.max() == pytest.approx(2.0, rel=1e-3)
    if ext == ".glb":
        # glTF is Y-up: the Blender Z (resting on 0) became glTF Y, Blender -Y became +Z
        assert V[:, 1].min() == pytest.approx(0.0, abs=1e-3)
    else:
        assert V[:, 2].min() == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("ext", [".obj", ".glb"])
def test_obj_and_glb_readable_by_open3d(tmp_path, run_job, quad_photo, sphere_map,
                                        mesh_reader, ext):
    out = tmp_path / f"sphere{ext}"
    result, _ = run_job(sphere_args(quad_photo, sphere_map, out))
    V, T, C = mesh_reader(out)
    assert len(T) == result["faces"], f"open3d reads {len(T)} triangles from {out.name}"
    assert len(V) > 0 and len(C) == (0 if ext == ".glb" else len(V))


def test_glb_colors_are_linear(tmp_path, run_job, sphere_map, mesh_reader, read_any_mesh):
    """glTF vertex colors are linear: an sRGB mid-gray of 128 is stored as ~0.216."""
    gray = tmp_path / "gray.png"
    Image.new("RGB", (2 * W, 2 * H), (128, 128, 128)).save(gray)
    run_job(sphere_args(str(gray), sphere_map, tmp_path / "g.glb"))
    run_job(sphere_args(str(gray), sphere_map, tmp_path / "p.ply"))  # (g.json is g.glb's)
    _, _, Cg = read_any_mesh(tmp_path / "g.glb")
    _, _, Cp = mesh_reader(tmp_path / "p.ply")
    assert np.allclose(Cp, 128 / 255, atol=1e-3)
    assert np.allclose(Cg, ((128 / 255 + 0.055) / 1.055) ** 2.4, atol=2e-3)


def test_sidecar_matches_result(tmp_path, run_job, quad_photo, sphere_map):
    out = tmp_path / "s.ply"
    result, _ = run_job(sphere_args(quad_photo, sphere_map, out))
    side = json.loads((tmp_path / "s.json").read_text())
    for key in ("mesh", "vertices", "faces", "watertight", "fov_deg", "depth_model", "bounds"):
        assert side[key] == result[key], key
    assert sorted(os.listdir(tmp_path)) == ["s.json", "s.ply", "s_texture.jpg"]
    assert result["outputs"] == [str(out), str(tmp_path / "s_texture.jpg"),
                                 str(tmp_path / "s.json")]
