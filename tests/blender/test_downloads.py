"""Online Access (Blender 4.2+) and the preferences' model downloads, in bpy 5.0.1.

The bpy module starts with Online Access off (``bpy.app.online_access`` False), as a
``blender -b`` run does without ``--online-mode``."""

import os
import shutil

import bpy
import pytest

import helpers

from blender_img2mesh.blender import properties


@pytest.fixture
def online():
    """Online Access on for one test (Preferences > System > Network)."""
    system = bpy.context.preferences.system
    before = system.use_online_access
    system.use_online_access = True
    try:
        yield
    finally:
        system.use_online_access = before


def _args(context):
    s = context.scene.img2mesh
    s.offline = False
    return properties.cli_args(s, "/photos/cup.png", "/tmp/cup.ply")


def test_generation_is_offline_without_online_access(addon):
    bpy.context.preferences.system.use_online_access = False
    assert bpy.app.online_access is False
    assert "--offline" in _args(addon)


def test_generation_may_download_with_online_access(addon, online):
    assert bpy.app.online_access is True
    assert "--offline" not in _args(addon)


def test_download_button_is_off_without_online_access(addon):
    bpy.context.preferences.system.use_online_access = False
    assert not bpy.ops.img2mesh.download_model.poll()
    with pytest.raises(RuntimeError, match="poll"):
        bpy.ops.img2mesh.download_model(name="u2netp")


def test_download_of_a_model_already_there(addon, online, tmp_path, monkeypatch):
    """The worker resolves the model in the models folder and says where it is."""
    source = os.path.join(helpers.models_dir(), "u2netp.onnx")
    assert os.path.isfile(source), "run scripts/get_models.py (scripts/setup.sh does)"
    shutil.copy(source, tmp_path / "u2netp.onnx")
    monkeypatch.setenv("IMG2MESH_MODELS", str(tmp_path))
    assert bpy.ops.img2mesh.download_model.poll()
    assert bpy.ops.img2mesh.download_model(name="u2netp") == {"FINISHED"}


def test_download_that_cannot_reach_the_hub_reports_it(addon, online, tmp_path,
                                                       monkeypatch):
    monkeypatch.setenv("IMG2MESH_MODELS", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no hub here either way; be sure and fast
    with pytest.raises(RuntimeError, match="glpn-nyu.*not downloaded and downloads are off"):
        bpy.ops.img2mesh.download_model(name="glpn-nyu")
    assert list(tmp_path.iterdir()) == []  # nothing half-downloaded left

