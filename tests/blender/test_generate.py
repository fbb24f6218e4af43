"""The operator end to end with the real pipeline (inflation depth: no weights needed)."""

import os
import sys

import bpy
import numpy as np
import pytest

import helpers
from blender_img2mesh.blender.client import jobs, worker_client
from blender_img2mesh.blender.scene import mesh_import


@pytest.fixture
def captured(monkeypatch):
    """Every PLY the add-on reads, as the reader returned it."""
    seen = []
    real = mesh_import.ply.read_ply

    def spy(path):
        data = real(path)
        seen.append((path, data))
        return data

    monkeypatch.setattr(mesh_import.ply, "read_ply", spy)
    return seen


def generate(**kwargs):
    options = dict(depth_model="inflate", poisson_depth=7, max_size=256,
                   **helpers.segment_kwargs())
    options.update(kwargs)
    return bpy.ops.img2mesh.generate(**options)


def test_generate_real_photo(addon, captured, monkeypatch):
    before = helpers.temp_dirs()
    started = []
    real_start = jobs.Runner.start
    monkeypatch.setattr(jobs.Runner, "start",
                        lambda self: started.append(list(self.args)) or real_start(self))
    addon.scene.cursor.location = (0.5, 1.5, -2.0)
    assert generate(filepath=helpers.photo("coffee.png")) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    assert obj.name == "coffee" and obj.select_get()
    (args,) = started  # the real segmenter ran (helpers.segment_kwargs)
    assert "--keep-background" not in args and args[args.index("--segmenter") + 1] == "u2netp"
    assert obj.name in addon.view_layer.active_layer_collection.collection.objects
    assert tuple(obj.location) == pytest.approx((0.5, 1.5, -2.0))
    (path, data), = captured
    mesh = obj.data
    assert len(mesh.vertices) == len(data.vertices) > 1000
    assert len(mesh.polygons) == len(data.loop_start)
    attr = mesh.color_attributes.active_color
    assert (attr.domain, attr.data_type) == ("POINT", "FLOAT_COLOR")
    rgba = np.empty(len(attr.data) * 4, np.float32)
    attr.data.foreach_get("color", rgba)
    np.testing.assert_allclose(rgba.reshape(-1, 4)[:, :3], helpers.srgb_to_linear(data.colors),
                               atol=1e-5)
    assert rgba.reshape(-1, 4)[:, :3].std() > 0.01  # a photo, not one flat color
    nodes = obj.active_material.node_tree.nodes
    vc = next(n for n in nodes if n.bl_idname == "ShaderNodeVertexColor")
    assert vc.layer_name == attr.name
    if data.uv is None:  # vertex colors only
        assert vc.outputs["Color"].links[0].to_socket.name == "Base Color"
    else:  # the photo as a texture on Base Color (packed: the temp folder goes), UVs exact
        tex = nodes["Img2Mesh Texture"]
        assert tex.outputs["Color"].links[0].to_socket.name == "Base Color"
        assert tex.image.packed_file is not None and min(tex.image.size) > 16
        uv = np.empty(len(mesh.loops) * 2, np.float32)
        mesh.uv_layers["UVMap"].data.foreach_get("uv", uv)
        np.testing.assert_array_equal(uv.reshape(-1, 2), data.uv[data.indices])
    dims = sorted(obj.dimensions)
    assert dims[-1] == pytest.approx(2.0, rel=1e-3)  # --size 2 (the default)
    # the temp folder is gone, and Blender itself never imported the heavy libraries
    assert not os.path.exists(path) and helpers.temp_dirs() <= before
    assert not [m for m in helpers.HEAVY if m in sys.modules]


def test_warm_worker_is_reused(addon):
    generate(filepath=helpers.photo("chelsea.png"), poisson_depth=6)
    first = worker_client.warm_worker()
    assert first is not None and first.alive()
    generate(filepath=helpers.photo("chelsea.png"), poisson_depth=6, back="flat")
    assert worker_client.warm_worker().pid == first.pid
    assert len([o for o in bpy.data.objects if o.type == "MESH"]) == 2
    bpy.ops.img2mesh.release_models()
    assert worker_client.warm_worker() is None
    assert helpers.wait_until(lambda: not helpers.pid_alive(first.pid), 10)


def test_panel_settings(addon):
    """The panel's Generate button passes the scene's settings to the operator."""
    from blender_img2mesh.blender.ui import properties

    s = addon.scene.img2mesh
    s.source, s.filepath, s.size, s.depth_model = "FILE", helpers.photo("chelsea.png"), 0.5, \
        "inflate"
    s.poisson_depth, s.max_size = 6, 256
    for key, value in helpers.segment_kwargs().items():
        setattr(s, key, value)
    kwargs = properties.operator_settings(s)
    assert kwargs["filepath"] == s.filepath and kwargs["size"] == 0.5
    assert bpy.ops.img2mesh.generate("INVOKE_DEFAULT", **kwargs) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    assert obj.name == "chelsea" and max(obj.dimensions) == pytest.approx(0.5, rel=1e-3)


def test_image_loaded_in_blender(addon):
    image = bpy.data.images.load(helpers.photo("astronaut.png"))
    image.name = "my photo"
    assert generate(image_name=image.name, poisson_depth=6) == {"FINISHED"}
    assert addon.view_layer.objects.active.name == "my photo"


def test_generated_image_is_saved_for_the_worker(addon, tmp_path):
    from blender_img2mesh.blender.scene import image_source

    image = bpy.data.images.new("painted", 64, 48)
    pixels = np.zeros((48, 64, 4), np.float32)
    pixels[12:36, 16:48] = (1.0, 0.5, 0.0, 1.0)
    pixels[..., 3] = 1.0
    image.pixels.foreach_set(pixels.ravel())
    path = image_source.from_image(image, str(tmp_path))
    assert path.endswith("painted.png") and os.path.getsize(path) > 0
    check = bpy.data.images.load(path)
    assert tuple(check.size) == (64, 48)
    assert len(bpy.data.images) == 2  # the temporary copy was removed


def test_bad_input_reports_clear_error(addon, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    objects = len(bpy.data.objects)
    with pytest.raises(RuntimeError, match="notes.png"):
        generate(filepath=str(bad))
    with pytest.raises(RuntimeError, match="image file not found"):
        generate(filepath=str(tmp_path / "missing.jpg"))
    assert len(bpy.data.objects) == objects and len(bpy.data.meshes) == 0
