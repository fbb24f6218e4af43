"""The photo on the mesh: camera UVs, the texture image, the three file formats read back
by real readers (trimesh, pygltflib, Khronos' glTF-Validator)."""

import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from blender_img2mesh.pipeline.output import texture
from blender_img2mesh.pipeline.source.image_io import load_photo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ply(path):
    import trimesh

    return trimesh.load(str(path), process=False)


def _camera_px(result, V):
    """Full-photo pixel positions of camera-frame vertices (the result's camera)."""
    w, h = result["working_size"]
    return texture.photo_xy(V, result["focal_px"], (h, w), result["_full_shape"])


@pytest.fixture(scope="module")
def coffee_result(tmp_path_factory, photo, u2netp_dir):
    """coffee.png through the default grid mesher, camera frame, .ply with texture."""
    from blender_img2mesh.pipeline.cli import parse_args
    from blender_img2mesh.pipeline.progress import Reporter
    from blender_img2mesh.pipeline.run import run

    out = tmp_path_factory.mktemp("tex") / "coffee.ply"
    result = run(parse_args([photo("coffee.png"), "-o", str(out), "--depth-model", "inflate",
                             "--frame", "camera", "--models-dir", u2netp_dir]), Reporter())
    rgb, _ = load_photo(photo("coffee.png"))
    result["_full_shape"] = rgb.shape[:2]
    result["_rgb"] = rgb
    return result


def test_uvs_are_the_camera_projection(coffee_result):
    """Every vertex's UV, at the texture's size, is where the camera projects it into
    the photo (within 0.01 px), and the texture there holds the photo's pixels."""
    mesh = _ply(coffee_result["mesh"])
    V = np.asarray(mesh.vertices, np.float64)
    uv = np.asarray(mesh.visual.uv, np.float64)
    tex = Image.open(coffee_result["texture"])
    tw, th = tex.size
    assert [tw, th] == coffee_result["texture_size"]
    xy = _camera_px(coffee_result, V)
    # the texture is the photo cropped at full resolution: find the crop from two vertices
    px = np.column_stack([uv[:, 0] * tw, (1.0 - uv[:, 1]) * th])
    offset = xy - px
    assert np.ptp(offset, axis=0).max() < 0.01, "UVs are not one translation of the photo"
    x0, y0 = np.round(offset.mean(axis=0)).astype(int)
    assert np.abs(offset - (x0, y0)).max() < 0.01
    # inside the object the texture's pixels are the photo's (JPEG q92: close, not equal)
    photo = coffee_result["_rgb"][y0:y0 + th, x0:x0 + tw].astype(float)
    inner = np.floor(px[::50]).astype(int)
    got = np.asarray(tex.convert("RGB"), float)[inner[:, 1], inner[:, 0]]
    want = photo[inner[:, 1], inner[:, 0]]
    assert np.median(np.abs(got - want)) <= 4


def test_texture_is_full_resolution_and_real_reader_finds_it(coffee_result):
    mesh = _ply(coffee_result["mesh"])
    image = mesh.visual.material.image  # trimesh follows 'comment TextureFile'
    assert image is not None
    assert image.size == tuple(coffee_result["texture_size"])
    # the crop is the object plus a margin, at the photo's own scale (not the working 512)
    h, w = coffee_result["_full_shape"]
    assert max(image.size) > 0.6 * max(h, w)
    assert coffee_result["color"] == "both"
    with open(coffee_result["mesh"], "rb") as fh:
        header = fh.read(600).split(b"end_header")[0].decode()
    assert "comment TextureFile coffee_texture.jpg" in header
    assert "property uchar red" in header and "property float s" in header


def test_outside_of_object_is_filled_not_background():
    """Pixels outside the mask take colours from the object (no background bleeds in)."""
    rgb = np.zeros((80, 100, 3), np.uint8)
    rgb[...] = (0, 0, 255)  # blue background
    mask = np.zeros((80, 100), bool)
    mask[20:60, 30:70] = True
    rgb[mask] = (200, 50, 0)
    tex = texture.build(rgb, mask)
    x0, y0, x1, y1 = tex.box
    assert (x0, y0, x1, y1) == (22, 12, 78, 68)  # 8 px margin
    img = tex.image.astype(int)
    assert np.abs(img - (200, 50, 0)).max() <= 1  # everything is the object's colour


def test_back_region_gets_outline_colours_and_split_seam():
    """A closed mesh: faces turned away from the camera map into the back region,
    painted with the outline's colours; shared vertices are split."""
    V = np.array([[0, 0, 2], [1, 0, 2], [0, 1, 2], [0, 0, 3]], float)
    T = np.array([[0, 2, 1], [0, 1, 3]])  # one facing the camera (-z), one away
    unseen = texture.unseen_faces(V, T)
    assert unseen.tolist() == [False, True]
    V2, T2, vunseen, source = texture.split_seam(V, T, unseen)
    assert len(V2) == 6 and source.tolist() == [0, 1, 2, 3, 0, 1]
    assert set(T2[1]) == {4, 5, 3} and vunseen.tolist() == [False] * 3 + [True] * 3
    rgb = np.full((60, 60, 3), 30, np.uint8)
    mask = np.zeros((60, 60), bool)
    mask[10:50, 10:50] = True
    rgb[mask] = (255, 255, 255)
    rgb[20:40, 20:40] = (255, 0, 0)  # a red centre the back must not show
    tex = texture.build(rgb, mask, unseen=True)
    assert tex.back is not None and tex.image.shape[1] > tex.front.shape[1]
    back = tex.back.astype(int)
    assert np.abs(back - 255).max() <= 2  # the outline is white all round
    uv = tex.uv(np.array([[30.0, 30.0], [30.0, 30.0]]), np.array([False, True]))
    cols = tex.colors(uv)
    assert cols[0].tolist() == [255, 0, 0] and min(cols[1]) >= 250


@pytest.fixture(scope="session")
def gltf_validator():
    """Run Khronos' glTF-Validator (npm gltf-validator, installed by scripts/setup.sh)."""
    modules = os.path.join(REPO, ".venv", "node", "node_modules")
    if not os.path.isdir(os.path.join(modules, "gltf-validator")):
        pytest.fail("gltf-validator is not installed: run scripts/setup.sh", pytrace=False)

    def validate(path):
        proc = subprocess.run(["node", os.path.join(REPO, "tests", "node", "validate_gltf.js"),
                               str(path)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "NODE_PATH": modules})
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    return validate


@pytest.mark.parametrize("extra", [[], ["--back", "mirror", "--target-faces", "3000"],
                                   ["--color", "both"]])
def test_glb_is_valid_and_textured(tmp_path, photo, u2netp_dir, run_job, gltf_validator,
                                   extra):
    import pygltflib

    out = tmp_path / "cup.glb"
    result, _ = run_job([photo("coffee.png"), "-o", out, "--depth-model", "inflate",
                         "--models-dir", u2netp_dir, "--max-size", "160", *extra])
    report = gltf_validator(out)
    assert (report["errors"], report["warnings"]) == (0, 0), report["messages"]
    assert report["info"]["hasTextures"]
    gltf = pygltflib.GLTF2().load(str(out))
    prim = gltf.meshes[0].primitives[0]
    assert prim.attributes.TEXCOORD_0 is not None
    assert (prim.attributes.COLOR_0 is not None) == ("both" in extra)
    material = gltf.materials[prim.material]
    assert material.pbrMetallicRoughness.baseColorTexture.index == 0
    assert gltf.images[0].mimeType == "image/jpeg"
    assert result["texture"] is None and result["outputs"] == [str(out),
                                                              str(tmp_path / "cup.json")]


def test_obj_with_mtl_and_texture(tmp_path, photo, u2netp_dir, run_job):
    import trimesh

    out = tmp_path / "cup.obj"
    result, _ = run_job([photo("coffee.png"), "-o", out, "--depth-model", "inflate",
                         "--models-dir", u2netp_dir, "--max-size", "160",
                         "--texture-size", "200"])
    assert sorted(os.listdir(tmp_path)) == ["cup.json", "cup.mtl", "cup.obj",
                                            "cup_texture.jpg"]
    assert "map_Kd cup_texture.jpg" in (tmp_path / "cup.mtl").read_text()
    mesh = trimesh.load(str(out), process=False)
    assert mesh.visual.kind == "texture"
    assert max(mesh.visual.material.image.size) == 200
    assert len(mesh.vertices) == result["vertices"]
    first_v = (tmp_path / "cup.obj").read_text().split("\nv ", 1)[1].split("\n")[0].split()
    assert len(first_v) == 6  # x y z r g b


def test_vertex_only_writes_no_texture(tmp_path, photo, u2netp_dir, run_job):
    out = tmp_path / "cup.ply"
    result, _ = run_job([photo("coffee.png"), "-o", out, "--depth-model", "inflate",
                         "--models-dir", u2netp_dir, "--max-size", "160", "--color", "vertex"])
    assert sorted(os.listdir(tmp_path)) == ["cup.json", "cup.ply"]
    assert result["texture"] is None and result["color"] == "vertex"
    with open(out, "rb") as fh:
        assert b"property float s" not in fh.read(600)


def test_png_texture_for_a_photo_with_alpha(tmp_path, photo, run_job):
    rgba = Image.open(photo("coffee.png")).convert("RGBA").resize((150, 100))
    a = np.zeros((100, 150), np.uint8)
    a[20:80, 30:120] = 255
    rgba.putalpha(Image.fromarray(a))
    src = tmp_path / "cut.png"
    rgba.save(src)
    result, _ = run_job([src, "-o", tmp_path / "cut.ply", "--depth-model", "inflate"])
    assert result["texture"].endswith("cut_texture.png") and result["texture_format"] == "png"
    assert Image.open(result["texture"]).format == "PNG"
