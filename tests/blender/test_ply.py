"""The PLY reader: property order, types, endianness, ASCII, mixed faces, bad files."""

import numpy as np
import pytest

import helpers
from blender_img2mesh.blender.client import ply

VERTS = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 1]], np.float32)
COLORS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [200, 100, 50]],
                  np.uint8)
TRIS = np.array([[0, 1, 2], [0, 2, 3], [0, 1, 4], [1, 2, 4]], np.int32)


@pytest.mark.parametrize("order,vtype,count_t,index_t,endian", [
    (("x", "y", "z", "red", "green", "blue"), "float", "uchar", "int", "<"),
    (("red", "x", "green", "y", "blue", "z"), "double", "uchar", "uint", "<"),
    (("blue", "green", "red", "z", "y", "x"), "float", "int", "int", ">"),
    (("x", "y", "z", "red", "green", "blue"), "float", "ushort", "uint", ">"),
])
def test_triangles_any_layout(tmp_path, order, vtype, count_t, index_t, endian):
    path = tmp_path / "m.ply"
    helpers.write_ply(path, VERTS, COLORS, TRIS, order, vtype, count_t, index_t, endian)
    m = ply.read_ply(path)
    assert m.vertices.dtype == np.float32
    np.testing.assert_array_equal(m.vertices, VERTS)
    np.testing.assert_array_equal(m.colors, COLORS)
    np.testing.assert_array_equal(m.triangles, TRIS)
    np.testing.assert_array_equal(m.loop_start, [0, 3, 6, 9])


def test_mixed_face_sizes(tmp_path):
    faces = [[0, 1, 2, 3], [0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]]
    path = tmp_path / "q.ply"
    helpers.write_ply(path, VERTS, COLORS, faces)
    m = ply.read_ply(path)
    assert m.triangles is None
    np.testing.assert_array_equal(m.loop_total, [4, 3, 3, 3, 3])
    np.testing.assert_array_equal(m.loop_start, [0, 4, 7, 10, 13])
    np.testing.assert_array_equal(m.indices, np.concatenate(faces))


def test_ascii(tmp_path):
    path = tmp_path / "a.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\n"
                    "property float y\nproperty float z\nproperty uchar red\n"
                    "property uchar green\nproperty uchar blue\nelement face 1\n"
                    "property list uchar int vertex_indices\nend_header\n"
                    "0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0 0 0 255\n3 0 1 2\n")
    m = ply.read_ply(path)
    np.testing.assert_array_equal(m.triangles, [[0, 1, 2]])
    np.testing.assert_array_equal(m.colors[1], [0, 255, 0])


def test_no_colors(tmp_path):
    path = tmp_path / "n.ply"
    path.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 1\n"
                     b"property float x\nproperty float y\nproperty float z\nend_header\n"
                     + np.array([1, 2, 3], "<f4").tobytes())
    m = ply.read_ply(path)
    assert m.colors is None and len(m.loop_start) == 0
    np.testing.assert_array_equal(m.vertices, [[1, 2, 3]])


def test_bad_files(tmp_path):
    path = tmp_path / "t.ply"
    helpers.write_ply(path, VERTS, COLORS, TRIS)
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    with pytest.raises(ply.PlyError, match="truncated"):
        ply.read_ply(path)
    path.write_bytes(b"solid stl\n")
    with pytest.raises(ply.PlyError, match="not a PLY"):
        ply.read_ply(path)
    helpers.write_ply(path, VERTS, COLORS, np.array([[0, 1, 9]], np.int32))
    with pytest.raises(ply.PlyError, match="does not exist"):
        ply.read_ply(path)


def test_srgb_to_linear():
    values = np.arange(256, dtype=np.uint8).reshape(-1, 1).repeat(3, axis=1)
    got = ply.srgb_to_linear(values)
    np.testing.assert_allclose(got, helpers.srgb_to_linear(values), atol=1e-6)
    assert got[0, 0] == 0.0 and got[255, 0] == pytest.approx(1.0)
    assert got[128, 0] == pytest.approx(0.2158605, abs=1e-6)


@pytest.mark.parametrize("uv_names", [("s", "t"), ("texture_u", "texture_v")])
def test_uvs_and_texture_file(tmp_path, uv_names):
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.25, 0.75]], np.float32)
    path = tmp_path / "m.ply"
    helpers.write_textured_ply(path, VERTS, TRIS, uv, COLORS, "m texture.jpg", uv_names)
    m = ply.read_ply(path)
    assert m.uv.dtype == np.float32
    np.testing.assert_array_equal(m.uv, uv)
    np.testing.assert_array_equal(m.colors, COLORS)
    np.testing.assert_array_equal(m.triangles, TRIS)
    assert m.texture_file == str(tmp_path / "m texture.jpg")  # absolute, spaces kept
    helpers.write_textured_ply(path, VERTS, TRIS, None, COLORS)  # --color vertex
    m = ply.read_ply(path)
    assert m.uv is None and m.texture_file is None
    np.testing.assert_array_equal(m.colors, COLORS)
    helpers.write_textured_ply(path, VERTS, TRIS, uv, None, "t.png")  # --color texture
    m = ply.read_ply(path)
    assert m.colors is None and m.texture_file == str(tmp_path / "t.png")
    np.testing.assert_array_equal(m.uv, uv)
