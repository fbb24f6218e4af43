"""The photo as a UV texture: PLY UVs -> UV map, the material's Image Texture node, the
texture image packed or kept beside the .blend, the Color switch, and textured files read
back by Blender's own glTF and OBJ importers."""

import os
import shutil

import bpy
import numpy as np
import pytest

import helpers
from blender_img2mesh.blender.scene import material, mesh_import


def _loop_uvs(mesh, name="UVMap"):
    layer = mesh.uv_layers[name]
    buf = np.empty(len(mesh.loops) * 2, np.float32)
    layer.data.foreach_get("uv", buf)
    return buf.reshape(-1, 2)


def _base_color_node(obj):
    bsdf = next(n for n in obj.active_material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    links = bsdf.inputs["Base Color"].links
    return links[0].from_node if links else None


def _pixels(image):
    """(H, W, 4) float, row 0 at the image's bottom (Blender's order)."""
    w, h = image.size
    buf = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(buf)
    return buf.reshape(h, w, 4)


@pytest.mark.parametrize("uv_names", [("s", "t"), ("texture_u", "texture_v")])
def test_import_uvs_and_packed_texture(addon, tmp_path, uv_names):
    work = tmp_path / "job"
    work.mkdir()
    path, verts, uv, colors, tris = helpers.textured_grid(str(work), n=12, uv_names=uv_names)
    notes = []
    obj = mesh_import.import_result(addon, path, "grid", warnings=notes)
    shutil.rmtree(work)  # the worker's temp folder goes right after the import
    assert notes == []
    mesh = obj.data
    assert mesh.uv_layers.active.name == "UVMap"
    idx = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", idx)
    np.testing.assert_array_equal(_loop_uvs(mesh), uv[idx])  # exact, per loop
    np.testing.assert_array_equal(idx, tris.reshape(-1))
    assert mesh.color_attributes["Color"].domain == "POINT"  # vertex colors kept
    nodes = obj.active_material.node_tree.nodes
    tex = nodes[material.TEXTURE_NODE]
    assert tex.type == "TEX_IMAGE" and nodes.active == tex
    assert (tex.interpolation, tex.extension) == ("Linear", "EXTEND")
    assert _base_color_node(obj) == tex
    assert nodes[material.COLOR_NODE].layer_name == "Color"
    image = tex.image
    assert image.name == "grid Texture" and image.colorspace_settings.name == "sRGB"
    assert image.packed_file is not None
    image.reload()  # from the packed bytes: the file is gone
    assert tuple(image.size) == (16, 8)
    px = np.round(_pixels(image)[..., :3] * 255).astype(int)
    # the PNG's top rows are blue, its red grows to the right; UV (0, 0) = bottom-left
    assert np.all(px[-1, :, 2] == 255) and np.all(px[0, :, 2] == 0)
    np.testing.assert_array_equal(px[0, :, 0], np.arange(16) * 16)


def test_seam_vertices_are_welded_with_uvs_per_corner(addon, tmp_path):
    """The pipeline duplicates vertices along UV seams (closed backs): the import welds
    them, so the mesh is closed, and keeps both UVs on the face corners."""
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0],
                      [0, 0, 0], [1, 0, 0]], np.float32)  # 4, 5: copies of 0, 1
    faces = np.array([[0, 1, 2], [4, 3, 5]])
    uv = np.array([[0.1, 0.1], [0.4, 0.1], [0.1, 0.4], [0.9, 0.9], [0.7, 0.7], [0.8, 0.7]],
                  np.float32)
    colors = np.arange(18, dtype=np.uint8).reshape(6, 3) * 10
    path = str(tmp_path / "seam.ply")
    helpers.write_png(str(tmp_path / "seam_texture.png"), np.zeros((4, 4, 3), np.uint8))
    helpers.write_textured_ply(path, verts, faces, uv=uv, colors=colors,
                               texture="seam_texture.png")
    obj = mesh_import.import_result(addon, path, "seam")
    mesh = obj.data
    assert len(mesh.vertices) == 4
    idx = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", idx)
    np.testing.assert_array_equal(idx, [0, 1, 2, 0, 3, 1])
    np.testing.assert_allclose(_loop_uvs(mesh), uv[faces.ravel()])  # both sides' UVs
    edges = {tuple(sorted(e.vertices)) for e in mesh.edges}
    assert (0, 1) in edges and len(edges) == 5  # one shared edge: the seam is closed


def test_color_switch_and_vertex_default(addon, tmp_path):
    path = helpers.textured_grid(str(tmp_path))[0]
    obj = mesh_import.import_result(addon, path, "grid", color="VERTEX")
    assert _base_color_node(obj).name == material.COLOR_NODE
    settings = addon.scene.img2mesh
    assert settings.color == "TEXTURE"
    settings.color = "VERTEX"  # the panel's switch re-links the selected result
    settings.color = "TEXTURE"
    assert material.color_source(obj.active_material) == "TEXTURE"
    assert _base_color_node(obj).name == material.TEXTURE_NODE
    obj.select_set(False)
    settings.color = "VERTEX"  # not selected: left as it is
    assert material.color_source(obj.active_material) == "TEXTURE"
    obj.select_set(True)
    settings.color = "TEXTURE"
    settings.color = "VERTEX"
    assert _base_color_node(obj).bl_idname == "ShaderNodeVertexColor"
    # the texture stays in the material, active (Solid mode's Texture color)
    assert obj.active_material.node_tree.nodes.active.name == material.TEXTURE_NODE


def test_texture_only_and_vertex_only_files(addon, tmp_path):
    verts, colors, tris = helpers.grid_mesh(5)
    uv = verts[:, [0, 2]].copy()
    helpers.write_png(str(tmp_path / "t.png"), np.full((4, 4, 3), 200, np.uint8))
    helpers.write_textured_ply(tmp_path / "tex.ply", verts, tris, uv, None, "t.png")
    obj = mesh_import.import_result(addon, str(tmp_path / "tex.ply"), "tex", color="VERTEX")
    assert "Color" not in obj.data.color_attributes
    assert _base_color_node(obj).name == material.TEXTURE_NODE  # nothing else to show
    helpers.write_textured_ply(tmp_path / "vc.ply", verts, tris, None, colors)
    obj = mesh_import.import_result(addon, str(tmp_path / "vc.ply"), "vc")
    assert len(obj.data.uv_layers) == 0
    assert material.TEXTURE_NODE not in obj.active_material.node_tree.nodes
    assert _base_color_node(obj).name == material.COLOR_NODE


def test_missing_texture_file_warns(addon, tmp_path):
    path = helpers.textured_grid(str(tmp_path))[0]
    os.remove(tmp_path / "grid_texture.png")
    notes = []
    obj = mesh_import.import_result(addon, path, "grid", warnings=notes)
    assert len(notes) == 1 and "grid_texture.png" in notes[0] and "missing" in notes[0]
    assert "UVMap" in obj.data.uv_layers
    assert _base_color_node(obj).name == material.COLOR_NODE


def test_texture_saved_beside_blend(addon, tmp_path):
    work, project = tmp_path / "job", tmp_path / "project"
    work.mkdir()
    project.mkdir()
    path = helpers.textured_grid(str(work))[0]
    notes = []  # unsaved .blend: packed, with a warning
    obj = mesh_import.import_result(addon, path, "grid", texture_storage="FILE", warnings=notes)
    assert obj.active_material.node_tree.nodes[material.TEXTURE_NODE].image.packed_file
    assert len(notes) == 1 and "packed" in notes[0]
    bpy.ops.wm.save_as_mainfile(filepath=str(project / "scene.blend"))
    (project / "textures").mkdir()
    (project / "textures" / "grid.001_Texture.png").write_bytes(b"the user's own file")
    notes = []
    obj = mesh_import.import_result(addon, path, "grid", texture_storage="FILE", warnings=notes)
    shutil.rmtree(work)
    assert notes == []
    image = obj.active_material.node_tree.nodes[material.TEXTURE_NODE].image
    assert image.packed_file is None
    assert image.name == "grid.001 Texture"  # the second "grid" object
    assert image.filepath == "//textures/grid.001_Texture_1.png"  # never over the user's
    assert (project / "textures" / "grid.001_Texture.png").read_bytes() == \
        b"the user's own file"
    image.reload()
    assert tuple(image.size) == (16, 8)
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.open_mainfile(filepath=str(project / "scene.blend"))
    image = bpy.data.images["grid.001 Texture"]
    assert tuple(image.size) == (16, 8) and image.packed_file is None


def _textured_mesh_object():
    obj = next(o for o in bpy.context.scene.objects if o.type == "MESH")
    tex = _base_color_node(obj)
    assert tex is not None and tex.type == "TEX_IMAGE"
    assert tuple(tex.image.size) == (16, 8)
    return obj


def _assert_uv_is_xz(obj):
    """The test grids map UV = (x, z) of each vertex (in world space: an importer may
    rotate the object instead of the data): check it per loop, whatever order the
    importer gave the vertices."""
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    m = np.array(obj.matrix_world)
    co = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
    idx = np.empty(len(mesh.loops), np.int32)
    mesh.loops.foreach_get("vertex_index", idx)
    want = co[idx][:, [0, 2]]
    np.testing.assert_allclose(_loop_uvs(mesh, mesh.uv_layers.active.name), want, atol=1e-6)


def test_gltf_importer_finds_texture_and_uvs(addon, tmp_path):
    path, verts, uv, colors, tris = helpers.textured_grid(str(tmp_path))
    glb = tmp_path / "grid.glb"
    helpers.write_glb(str(glb), verts, tris, uv, str(tmp_path / "grid_texture.png"))
    assert bpy.ops.import_scene.gltf(filepath=str(glb)) == {"FINISHED"}
    obj = _textured_mesh_object()
    assert len(obj.data.polygons) == len(tris)
    _assert_uv_is_xz(obj)


def test_obj_importer_finds_texture_and_uvs(addon, tmp_path):
    path, verts, uv, colors, tris = helpers.textured_grid(str(tmp_path))
    obj_path = tmp_path / "grid.obj"
    helpers.write_obj(str(obj_path), verts, tris, uv, "grid_texture.png")
    assert bpy.ops.wm.obj_import(filepath=str(obj_path)) == {"FINISHED"}
    obj = _textured_mesh_object()
    assert len(obj.data.polygons) == len(tris)
    _assert_uv_is_xz(obj)


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "img2mesh_blender", os.path.join(helpers.REPO, "scripts", "img2mesh_blender.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("ext", [".glb", ".obj", ".ply"])
def test_headless_export_keeps_texture(addon, tmp_path, ext):
    work, out = tmp_path / "job", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    path, verts, uv, colors, tris = helpers.textured_grid(str(work))
    png = (work / "grid_texture.png").read_bytes()
    obj = mesh_import.import_result(addon, path, "grid")
    shutil.rmtree(work)  # packed: the export needs nothing from the job's folder
    target = out / ("grid" + ext)
    _script().export(str(target), obj)
    if ext == ".ply":  # our reader: UVs and the texture beside, bytes as they were
        from blender_img2mesh.blender.client import ply

        data = ply.read_ply(target)
        assert data.texture_file == str(out / "grid_texture.png")
        assert open(data.texture_file, "rb").read() == png
        assert data.uv is not None and data.colors is not None
    if ext == ".obj":
        assert (out / "grid_texture.png").read_bytes() == png
        assert "map_Kd grid_texture.png" in (out / "grid.mtl").read_text()
    if ext == ".glb":
        assert not (out / "grid_texture.png").exists()  # embedded
        doc = helpers.glb_json(target)
        attributes = doc["meshes"][0]["primitives"][0]["attributes"]
        assert "TEXCOORD_0" in attributes and "COLOR_0" not in attributes  # no multiply
        pbr = doc["materials"][0]["pbrMetallicRoughness"]
        assert doc["textures"][pbr["baseColorTexture"]["index"]]["source"] == 0
        assert len(doc["images"]) == 1
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if ext == ".ply":
        bpy.context.scene.cursor.location = (0, 0, 0)
        mesh_import.import_result(bpy.context, str(target), "back")
    elif ext == ".obj":
        bpy.ops.wm.obj_import(filepath=str(target))
    else:
        bpy.ops.import_scene.gltf(filepath=str(target))
    back = _textured_mesh_object()
    assert len(back.data.polygons) == len(tris)
    _assert_uv_is_xz(back)


def test_glb_export_of_vertex_colors(addon, tmp_path):
    path = helpers.textured_grid(str(tmp_path))[0]
    obj = mesh_import.import_result(addon, path, "grid", color="VERTEX")
    _script().export(str(tmp_path / "v.glb"), obj)
    doc = helpers.glb_json(tmp_path / "v.glb")
    assert "COLOR_0" in doc["meshes"][0]["primitives"][0]["attributes"]
    assert "baseColorTexture" not in doc["materials"][0].get("pbrMetallicRoughness", {})


@pytest.mark.parametrize("ext", [".glb", ".obj"])
def test_blender_importers_read_pipeline_outputs(addon, tmp_path, ext):
    """The pipeline's own textured .glb / .obj (+ .mtl + image), read by Blender's glTF
    and OBJ importers: a UV map, an Image Texture with the texture on Base Color."""
    import json
    import subprocess

    out = tmp_path / f"cup{ext}"
    proc = subprocess.run([helpers.PIPELINE_PYTHON, "-m", "blender_img2mesh",
                           helpers.photo(), "-o", str(out), "--depth-model", "inflate",
                           "--keep-background", "--max-size", "96", "-q"],
                          cwd=helpers.REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    side = json.loads((tmp_path / "cup.json").read_text())
    if ext == ".glb":
        assert bpy.ops.import_scene.gltf(filepath=str(out)) == {"FINISHED"}
    else:
        assert bpy.ops.wm.obj_import(filepath=str(out)) == {"FINISHED"}
    obj = next(o for o in bpy.context.scene.objects if o.type == "MESH")
    assert len(obj.data.polygons) == side["faces"]
    assert len(obj.data.uv_layers) == 1
    tex = _base_color_node(obj)
    assert tex is not None and tex.type == "TEX_IMAGE"
    assert tuple(tex.image.size) == tuple(side["texture_size"])
    uv = _loop_uvs(obj.data, obj.data.uv_layers.active.name)
    assert -0.01 <= uv.min() and uv.max() <= 1.01 and np.ptp(uv, axis=0).min() > 0.5
