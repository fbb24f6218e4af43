"""The worker started ahead: the panel's first draw (or a picked image, a new depth model)
starts the warm worker and sends it a ``preload`` of the panel's models, so that the first
Generate finds them loaded.  Timers never fire in background mode: the tests call the
timer functions the add-on registered, as Blender would."""

import os
import subprocess
import time
import types
from unittest import mock

import bpy
import pytest

import helpers
from blender_img2mesh.blender.client import jobs, worker_client
from blender_img2mesh.blender.ui import panels
from blender_img2mesh.blender.ops import worker_ahead


@pytest.fixture(scope="module")
def tiny_glpn(tmp_path_factory):
    """A tiny random-weight GLPN depth model, saved by the pipeline's Python (no torch
    in Blender's process)."""
    folder = str(tmp_path_factory.mktemp("tiny") / "glpn")
    subprocess.run([helpers.PIPELINE_PYTHON, os.path.join(helpers.HERE, "make_tiny_glpn.py"),
                    folder], check=True, timeout=300)
    return folder


def draw_panel():
    """The main panel's draw, as Blender calls it (a stand-in layout takes the calls)."""
    panels.IMG2MESH_PT_main.draw(types.SimpleNamespace(layout=mock.MagicMock()), bpy.context)


def fire(fn):
    """Run a timer function Blender would run, and take it off the timers."""
    assert bpy.app.timers.is_registered(fn), fn
    bpy.app.timers.unregister(fn)
    return fn()


def settings(model, **extra):
    s = bpy.context.scene.img2mesh
    s.filepath = helpers.photo()
    kw = helpers.segment_kwargs()
    for name in ("remove_background", "segmenter", "models_dir", "offline"):
        setattr(s, name, kw[name])
    s.depth_model, s.depth_model_custom, s.max_size = "CUSTOM", model, 128
    for name, value in extra.items():
        setattr(s, name, value)
    return s


@pytest.fixture
def ahead(addon, monkeypatch):
    """The add-on with starting ahead asked for in background mode, no worker yet."""
    worker_client.release()
    monkeypatch.setenv("IMG2MESH_WORKER_AHEAD", "1")
    worker_ahead.reset()
    yield addon
    worker_ahead.reset()
    worker_client.release()


def job_args(s, tmp_path):
    from blender_img2mesh.blender.ui import properties

    return properties.cli_args(s, helpers.photo(), str(tmp_path / "out.ply"))


def test_preload_then_generate_loads_nothing(ahead, tiny_glpn, tmp_path):
    """Real pipeline: a cold job loads its models; after a preload started by the panel's
    first draw, a job queued behind it shows "Loading models" and its own model stage
    loads nothing (a small fraction of the cold job's)."""
    s = settings(tiny_glpn)
    python = os.environ["IMG2MESH_PYTHON"]
    cold = jobs.Runner(python, job_args(s, tmp_path), str(tmp_path)).start().wait()
    assert cold is not None and cold["mask"] == "u2netp"
    worker_ahead.reset()
    worker_client.release()

    draw_panel()
    assert worker_client.warm_worker() is None  # draw itself starts nothing
    fire(worker_ahead._start_timer)
    worker = worker_client.warm_worker()
    assert worker is not None and worker.alive() and worker.preloads
    runner = jobs.Runner(python, job_args(s, tmp_path), str(tmp_path)).start()
    assert runner.label == "Loading models"
    seen = []
    warm = runner.wait(seen.append)
    assert warm is not None, runner.error
    assert worker_client.warm_worker() is worker and not worker.preloads
    ahead_msgs = [e["message"] for e in seen if e.get("stage") == "model"
                  and e["fraction"] == 0.0]
    assert any("depth model" in m for m in ahead_msgs), seen[:5]
    assert warm["timings"]["model"] < 0.25 * cold["timings"]["model"], \
        (warm["timings"], cold["timings"])


def test_preload_answer_is_read_by_the_timer(ahead, tiny_glpn):
    """With no job running, the add-on's timer reads the preload's result; the same
    settings again send nothing; a new depth model sends a new preload (debounced)."""
    s = settings(tiny_glpn)
    preload = worker_ahead.start()
    assert preload is not None
    deadline = time.monotonic() + 300
    while worker_ahead._poll() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert preload.error is None
    assert preload.result["preloaded"] == ["segmenter:u2netp", f"depth:{tiny_glpn}"]
    assert "models loaded" in worker_ahead.status
    assert worker_ahead.start() is None  # loaded already
    s.depth_model = "inflate"  # a new model: a preload once the changes settle
    assert bpy.app.timers.is_registered(worker_ahead._start_timer)
    fire(worker_ahead._start_timer)
    assert worker_ahead._pending and worker_ahead._pending[0] is not preload
    args = worker_ahead._pending[0].args
    assert args[args.index("--depth-model") + 1] == "inflate"
    s.offline = False  # started ahead, nothing downloads: Generate does, showing it
    assert worker_ahead.preload_args(s).count("--offline") == 1


def test_panel_draw_starts_once_and_only_when_allowed(addon, fake_worker, monkeypatch):
    """The first draw schedules one start, later draws none; background mode (this
    process) starts nothing unless asked; the preference off starts nothing."""
    worker_ahead.reset()
    monkeypatch.delenv("IMG2MESH_WORKER_AHEAD", raising=False)
    draw_panel()
    assert not bpy.app.timers.is_registered(worker_ahead._start_timer)
    assert worker_ahead.start() is None and worker_client.warm_worker() is None

    monkeypatch.setenv("IMG2MESH_WORKER_AHEAD", "1")
    worker_ahead.reset()
    bpy.context.scene.img2mesh.depth_model = "inflate"
    bpy.app.timers.unregister(worker_ahead._start_timer)  # (the change scheduled one)
    draw_panel()
    fire(worker_ahead._start_timer)
    worker = worker_client.warm_worker()
    assert worker is not None and worker.alive()
    draw_panel()
    draw_panel()
    assert not bpy.app.timers.is_registered(worker_ahead._start_timer)
    assert worker_client.warm_worker() is worker

    worker_ahead.reset()
    worker_client.release()
    monkeypatch.setattr(worker_ahead, "get_prefs",
                        lambda context=None: types.SimpleNamespace(start_ahead=False))
    draw_panel()
    assert not bpy.app.timers.is_registered(worker_ahead._start_timer)
    assert worker_ahead.start() is None and worker_client.warm_worker() is None
    worker_ahead.reset()
