"""Enabled as a real add-on (addon_utils): the preferences reach the worker."""

import json
import os

import addon_utils
import bpy

import helpers
from blender_img2mesh.blender.client import worker_client


def test_preferences_reach_the_worker(fake_worker, monkeypatch, tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    monkeypatch.delenv("IMG2MESH_PYTHON")
    monkeypatch.setenv("FAKE_WORKER_ARGS", str(tmp_path / "args.json"))
    assert addon_utils.enable("blender_img2mesh", default_set=True, handle_error=None)
    try:
        prefs = bpy.context.preferences.addons["blender_img2mesh"].preferences
        prefs.python_path = helpers.FAKE_PYTHON
        prefs.models_dir = str(tmp_path / "models")
        prefs.device = "cpu"
        prefs.keep_worker = False
        assert bpy.ops.img2mesh.generate(filepath=helpers.photo(), back="mirror",
                                         fov=35.0, texture_size=640) == {"FINISHED"}
        sent = json.loads((tmp_path / "args.json").read_text())
        args = sent["args"]
        assert args[0] == helpers.photo() and args[args.index("--device") + 1] == "cpu"
        assert args[args.index("--models-dir") + 1] == str(tmp_path / "models")
        assert args[args.index("--back") + 1] == "mirror"
        assert float(args[args.index("--fov") + 1]) == 35.0
        assert "--keep-background" not in args and "--segmenter" in args
        assert args[args.index("--texture-size") + 1] == "640"
        assert "--color" not in args  # the pipeline's default, both: the file keeps both
        assert sent["pythonpath"].split(os.pathsep)[0] == helpers.REPO
        assert worker_client.warm_worker() is None  # "Keep Models Loaded" is off
        obj = bpy.context.view_layer.objects.active
        assert obj.name == "coffee" and len(obj.data.vertices) == 4
        # the Release Models button and the dependency check work from the preferences
        assert bpy.ops.img2mesh.release_models() == {"FINISHED"}
        prefs.python_path = helpers.PIPELINE_PYTHON
        assert bpy.ops.img2mesh.check_dependencies() == {"FINISHED"}
        assert prefs.dependency_status.startswith("OK - ") and "torch" in prefs.dependency_status
    finally:
        addon_utils.disable("blender_img2mesh", default_set=True)
    assert not hasattr(bpy.types, "IMG2MESH_OT_generate")


def test_texture_storage_preference(fake_worker, monkeypatch, tmp_path):
    """A result with a texture (fake worker): packed by default; with Save beside .blend
    copied to //textures/ of the saved .blend; the job folder is gone either way."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    fake_worker("texture")
    assert addon_utils.enable("blender_img2mesh", default_set=True, handle_error=None)
    try:
        prefs = bpy.context.preferences.addons["blender_img2mesh"].preferences
        assert prefs.texture_storage == "PACK"
        before = helpers.temp_dirs()
        assert bpy.ops.img2mesh.generate(filepath=helpers.photo()) == {"FINISHED"}
        obj = bpy.context.view_layer.objects.active
        image = obj.active_material.node_tree.nodes["Img2Mesh Texture"].image
        assert image.packed_file is not None and tuple(image.size) == (2, 2)
        assert helpers.temp_dirs() <= before
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
        prefs.texture_storage = "FILE"
        assert bpy.ops.img2mesh.generate(filepath=helpers.photo(),
                                         color="VERTEX") == {"FINISHED"}
        obj = bpy.context.view_layer.objects.active
        nodes = obj.active_material.node_tree.nodes
        image = nodes["Img2Mesh Texture"].image
        assert image.packed_file is None and \
            image.filepath == "//textures/coffee.001_Texture.png"
        assert (tmp_path / "textures" / "coffee.001_Texture.png").read_bytes()[:4] == \
            b"\x89PNG"
        bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
        assert bsdf.inputs["Base Color"].links[0].from_node.type == "VERTEX_COLOR"
        assert helpers.temp_dirs() <= before
    finally:
        addon_utils.disable("blender_img2mesh", default_set=True)
