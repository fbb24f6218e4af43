"""Online Access (Blender 4.2+) and the preferences' model downloads, in bpy 5.0.1.

The bpy module starts with Online Access off (``bpy.app.online_access`` False), as a
``blender -b`` run does without ``--online-mode``."""

import os
import shutil
import threading

import bpy
import pytest

import helpers

from blender_img2mesh.blender.ui import properties


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
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1")  # a closed port: no hub
    with pytest.raises(RuntimeError, match="glpn-nyu.*cannot be reached"):
        bpy.ops.img2mesh.download_model(name="glpn-nyu")
    assert list(tmp_path.iterdir()) == []  # nothing half-downloaded left


def test_download_is_refused_while_an_offline_variable_is_set(addon, online, tmp_path,
                                                              monkeypatch):
    """Download can only fail then: the button is greyed out and says why."""
    monkeypatch.setenv("IMG2MESH_MODELS", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not bpy.ops.img2mesh.download_model.poll()
    with pytest.raises(RuntimeError, match="downloads are off: HF_HUB_OFFLINE is set"):
        bpy.ops.img2mesh.download_model(name="glpn-nyu")
    assert list(tmp_path.iterdir()) == []



def test_cancel_a_slow_download(addon, online, hub, tmp_path, monkeypatch):
    """The real download code (the worker's huggingface_hub) against a slow local hub
    (tests/hub_server.py); Cancel while the weights trickle in: the worker and its
    children are gone, and so is the download's .partial folder."""
    from blender_img2mesh.blender.client import jobs, worker_client

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "config.json").write_text('{"model_type": "glpn"}')
    (repo / "model.safetensors").write_bytes(os.urandom(2 * 1024 * 1024))
    hub.add("tiny-org/slow", repo)
    hub.fault("model.safetensors", "slow", delay=0.2)  # 128 chunks: ~25 s
    models = tmp_path / "models"
    for key, value in {**hub.env, "IMG2MESH_MODELS": str(models),
                       "HF_HOME": str(tmp_path / "hf")}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    worker_client.release()  # a new worker, with this environment
    seen = {}

    def cancel_when_downloading():
        try:
            assert helpers.wait_until(lambda: jobs.current is not None
                                      and jobs.current.job is not None, 60)
            seen["pid"] = jobs.current.job.worker.pid
            partial = models / "tiny-org--slow.partial"
            assert helpers.wait_until(lambda: hub.fetched("model.safetensors")
                                      and partial.is_dir(), 120)
            seen["partial"] = partial.is_dir()
            jobs.current.cancel_requested = True  # the Cancel button; Esc cancels alike
        except BaseException as exc:  # reported by the main thread
            seen["error"] = exc

    thread = threading.Thread(target=cancel_when_downloading)
    thread.start()
    try:
        assert bpy.ops.img2mesh.download_model(name="tiny-org/slow") == {"CANCELLED"}
    finally:
        thread.join(120)
        worker_client.release()
    assert "error" not in seen, seen.get("error")
    assert seen["partial"]  # it really was downloading
    assert not helpers.pid_alive(seen["pid"]) and helpers.group_members(seen["pid"]) == []
    assert not jobs.running()
    assert list(models.iterdir()) == []  # no .partial folder, no model
