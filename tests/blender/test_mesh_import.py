"""PLY -> Blender object: geometry, linear colors, material, placement; import speed."""

import time

import bpy
import numpy as np

import helpers
from blender_img2mesh.blender.scene import mesh_import


def _vertex_colors(mesh):
    attr = mesh.color_attributes.active_color
    buf = np.empty(len(attr.data) * 4, np.float32)
    attr.data.foreach_get("color", buf)
    return attr, buf.reshape(-1, 4)


def test_import_colored_grid(addon, tmp_path):
    verts, colors, tris = helpers.grid_mesh(20)
    path = tmp_path / "grid.ply"
    helpers.write_ply(path, verts, colors, tris, order=("red", "z", "green", "x", "blue", "y"),
                      vtype="double", index_t="uint")
    coll = bpy.data.collections.new("Target")
    addon.scene.collection.children.link(coll)
    addon.view_layer.active_layer_collection = \
        addon.view_layer.layer_collection.children["Target"]
    addon.scene.cursor.location = (3.0, -1.0, 0.5)
    obj = mesh_import.import_result(addon, str(path), "grid", {"fov_deg": 40.0},
                                    add_camera=True)
    mesh = obj.data
    assert obj.name == "grid" and obj.users_collection[0] == coll
    assert tuple(obj.location) == (3.0, -1.0, 0.5)
    assert obj.select_get() and addon.view_layer.objects.active == obj
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    np.testing.assert_allclose(co.reshape(-1, 3), verts, atol=1e-6)
    assert len(mesh.polygons) == len(tris)
    idx = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", idx)
    np.testing.assert_array_equal(idx.reshape(-1, 3), tris)
    attr, rgba = _vertex_colors(mesh)
    assert (attr.domain, attr.data_type) == ("POINT", "FLOAT_COLOR")
    np.testing.assert_allclose(rgba[:, :3], helpers.srgb_to_linear(colors), atol=1e-5)
    assert np.all(rgba[:, 3] == 1.0)
    # the material's Base Color comes from this attribute
    mat = obj.active_material
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    link = bsdf.inputs["Base Color"].links[0]
    assert link.from_node.bl_idname == "ShaderNodeVertexColor"
    assert link.from_node.layer_name == attr.name
    # the matched camera looks at the front (-Y side) with the photo's field of view
    cam = addon.scene.camera
    assert cam is not None and cam.type == "CAMERA"
    assert abs(np.degrees(cam.data.angle) - 40.0) < 1e-4
    assert cam.location.y < obj.location.y


def test_import_speed_300k_triangles(addon, tmp_path):
    verts, colors, tris = helpers.grid_mesh(388)  # 150,544 vertices, 299,538 triangles
    path = tmp_path / "big.ply"
    helpers.write_ply(path, verts, colors, tris)
    t0 = time.perf_counter()
    obj = mesh_import.import_result(addon, str(path), "big")
    seconds = time.perf_counter() - t0
    print(f"\nimport of {len(tris)} colored triangles: {seconds:.2f} s")
    assert len(obj.data.polygons) == len(tris)
    _, rgba = _vertex_colors(obj.data)
    np.testing.assert_allclose(rgba[-1, :3], helpers.srgb_to_linear(colors[-1]), atol=1e-5)
    assert seconds < 5.0  # numpy + foreach_set; a per-vertex Python loop takes far longer
