"""Registering and unregistering, twice; unregister stops the warm worker."""

import bpy

import blender_img2mesh
import helpers
from blender_img2mesh.blender import classes, worker_client


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
    from blender_img2mesh.blender import jobs, panels

    class Layout:  # records what the panel asks for
        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            def call(*args, **kwargs):
                self.calls.append((name, args, kwargs))
                return self
            return call

    runner = jobs.Runner("python", [], None)
    runner.stage, runner.fraction = "depth", 0.42
    layout = Layout()
    panels.draw_progress(layout, runner)
    names = [c[0] for c in layout.calls]
    assert "progress" in names and "operator" in names
    text = [c[2].get("text") for c in layout.calls if c[0] == "progress"][0]
    assert text == "Estimating depth 42%"
    del Layout.__getattr__  # no `progress` attribute: the 3.x text fallback
    layout = type("Old", (), {"calls": []})()
    layout.label = lambda **kw: layout.calls.append(("label", kw))
    layout.operator = lambda *a, **kw: layout.calls.append(("operator", a))
    panels.draw_progress(layout, runner)
    assert layout.calls[0][1]["text"] == "42% Estimating depth"
    assert layout.calls[1][1]["text"] == "|" * 10 + "." * 14
