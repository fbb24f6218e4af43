"""Tests of the Blender half.  Run with the bpy venv (Blender as a Python module):

    .venv-blender/bin/python -m pytest tests/blender

The worker runs in the pipeline's venv ($IMG2MESH_PYTHON, default .venv/bin/python).
test_headless.py also needs Debian's ``blender`` binary (apt-get install blender).
"""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bpy  # noqa: E402

import blender_img2mesh  # noqa: E402
import helpers  # noqa: E402

os.environ.setdefault("IMG2MESH_PYTHON", helpers.PIPELINE_PYTHON)


@pytest.fixture
def addon():
    """An empty scene with the add-on registered (and unregistered afterwards)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_img2mesh.register()
    try:
        yield bpy.context
    finally:
        blender_img2mesh.unregister()


@pytest.fixture
def fake_worker(monkeypatch, tmp_path):
    """Point the add-on at tests/blender/fake_python; returns a mode setter."""
    from blender_img2mesh.blender.client import worker_client

    worker_client.release()
    monkeypatch.setenv("IMG2MESH_PYTHON", helpers.FAKE_PYTHON)
    monkeypatch.setenv("FAKE_WORKER_PIDFILE", str(tmp_path / "pids"))

    def mode(name):
        monkeypatch.setenv("FAKE_WORKER_MODE", name)
        worker_client.release()  # a new mode needs a new process
        return tmp_path / "pids"

    mode("ok")
    yield mode
    worker_client.release()


@pytest.fixture
def hub():
    """The local imitation of the Hugging Face Hub (tests/hub_server.py, standard library
    only) for one test; ``hub.env`` points the worker's huggingface_hub at it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "hub_server", os.path.join(REPO, "tests", "hub_server.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.FakeHub().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scene(addon, tmp_path):
    """The add-on's scene settings, offline, with an empty models folder (no worker
    ahead, no network) and no last result."""
    from blender_img2mesh.blender.ui import panel_info

    panel_info.last_result = None
    s = addon.scene.img2mesh
    s.models_dir, s.offline = str(tmp_path), True  # no worker ahead, no network
    return s
