"""Enabled as a real add-on (addon_utils): the preferences reach the worker."""

import json
import os

import addon_utils
import bpy

import helpers
from blender_img2mesh.blender import worker_client


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
                                         fov=35.0) == {"FINISHED"}
        sent = json.loads((tmp_path / "args.json").read_text())
        args = sent["args"]
        assert args[0] == helpers.photo() and args[args.index("--device") + 1] == "cpu"
        assert args[args.index("--models-dir") + 1] == str(tmp_path / "models")
        assert args[args.index("--back") + 1] == "mirror"
        assert float(args[args.index("--fov") + 1]) == 35.0
        assert "--keep-background" not in args and "--segmenter" in args
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
