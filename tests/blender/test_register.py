"""Registering and unregistering, twice; unregister stops the warm worker."""

import bpy

import blender_img2mesh
import helpers
from blender_img2mesh.blender import classes
from blender_img2mesh.blender.client import worker_client


def test_register_unregister_twice():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    for _ in range(2):
        blender_img2mesh.register()
        assert hasattr(bpy.types, "IMG2MESH_OT_generate")
        assert hasattr(bpy.types, "IMG2MESH_PT_main")
        assert hasattr(bpy.types, "IMG2MESH_PT_advanced")
        assert "generate" in dir(bpy.ops.img2mesh)
        assert bpy.context.scene.img2mesh.poisson_depth == 8
        assert all(cls.is_registered for cls in classes)
        blender_img2mesh.unregister()
        assert not hasattr(bpy.types, "IMG2MESH_OT_generate")
        assert not hasattr(bpy.types.Scene, "img2mesh")
        assert not any(cls.is_registered for cls in classes)


def test_unregister_stops_warm_worker(fake_worker, tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_img2mesh.register()
    try:
        img = tmp_path / "photo.png"
        img.write_bytes(b"not really read by the fake worker")
        bpy.ops.img2mesh.generate(filepath=str(img))
        worker = worker_client.warm_worker()
        assert worker is not None and helpers.pid_alive(worker.pid)
    finally:
        blender_img2mesh.unregister()
    assert worker_client.warm_worker() is None
    assert helpers.wait_until(lambda: not helpers.pid_alive(worker.pid), 10)


def test_panel_draws_in_every_state(addon, fake_worker):
    """Panel draw code runs (layout.progress on 4.0+, text bar otherwise)."""
    from blender_img2mesh.blender.client import jobs
    from blender_img2mesh.blender.ui import panels

    class Layout:  # records what the panel asks for
        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            def call(*args, **kwargs):
                self.calls.append((name, args, kwargs))
                return self
            return call

    runner = jobs.Runner("python", [], None, title="photo.jpg")
    runner.stage, runner.fraction, runner.message = "depth", 0.42, "Estimating depth"
    layout = Layout()
    panels.draw_progress(layout, runner)
    names = [c[0] for c in layout.calls]
    assert "progress" in names and "operator" in names
    text = [c[2].get("text") for c in layout.calls if c[0] == "progress"][0]
    assert text == "42%"  # the words are on their own line, once
    labels = [c[2].get("text") for c in layout.calls if c[0] == "label"]
    assert labels == ["Estimating depth", "photo.jpg"]
    del Layout.__getattr__  # no `progress` attribute: the 3.x text fallback

    class Old:
        calls = []

        def column(self, **kw):
            return self

        def label(self, **kw):
            self.calls.append(("label", kw))

        def operator(self, *a, **kw):
            self.calls.append(("operator", a))

    layout = Old()
    panels.draw_progress(layout, runner)
    assert [c[1]["text"] for c in layout.calls[:3]] == [
        "42%  " + "|" * 8 + "." * 12, "Estimating depth", "photo.jpg"]
