"""The Text source: the operator generates a picture from a prompt (tiny random diffusers
pipeline, built by the pipeline's Python: Blender's cannot import torch), then the mesh."""

import os
import subprocess
import sys

import bpy
import numpy as np
import pytest

import helpers
from blender_img2mesh.blender.client import jobs


@pytest.fixture(scope="module")
def tiny_t2i(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("t2i") / "tiny-sd-turbo")
    proc = subprocess.run([helpers.PIPELINE_PYTHON, os.path.join(helpers.REPO, "tests",
                                                                 "tiny_t2i.py"), folder],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return folder


@pytest.fixture
def seen_events(monkeypatch):
    """Every event the add-on's job runner receives from the worker."""
    seen = []
    real = jobs.Runner._fold

    def spy(self, event):
        seen.append(event)
        return real(self, event)

    monkeypatch.setattr(jobs.Runner, "_fold", spy)
    return seen


def generate(**kwargs):
    options = dict(source="TEXT", depth_model="inflate", remove_background=False,
                   offline=True, max_size=64, poisson_depth=6)
    options.update(kwargs)
    return bpy.ops.img2mesh.generate(**options)


def test_text_prompt_to_mesh(addon, tiny_t2i, seen_events, tmp_path):
    before = helpers.temp_dirs()
    images = set(bpy.data.images)
    assert generate(prompt="a red ceramic mug", seed=5, t2i_model=tiny_t2i) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    obj_name = obj.name
    assert obj_name == "a red ceramic mug" and obj.select_get()
    assert len(obj.data.vertices) > 1000 and len(obj.data.polygons) > 1000
    # the generated picture is in Blender's image list, packed (its temp folder is gone)
    new = {im.name: im for im in bpy.data.images if im not in images}
    assert sorted(new) == [obj.name, f"{obj.name} Texture"]  # the picture, the texture
    image = new[obj.name]
    assert image.packed_file is not None and tuple(image.size) == (64, 64)
    pixels = np.empty(64 * 64 * 4, np.float32)
    image.pixels.foreach_get(pixels)
    assert pixels.reshape(-1, 4)[:, :3].std() > 0.01
    # the mesh's colors (linear) come from that picture (sRGB values in .pixels), all of it
    # (no background removal)
    attr = obj.data.color_attributes.active_color
    rgba = np.empty(len(attr.data) * 4, np.float32)
    attr.data.foreach_get("color", rgba)
    linear = helpers.srgb_to_linear(pixels.reshape(-1, 4)[:, :3] * 255.0)
    assert np.abs(rgba.reshape(-1, 4)[:, :3].mean(axis=0) - linear.mean(axis=0)).max() < 0.03
    # progress came through the protocol per denoising step; the seed reached the worker
    steps = [e["message"] for e in seen_events if e["event"] == "progress" and
             e["stage"] == "prompt" and e["message"].startswith("Denoising")]
    assert steps == ["Denoising step 1 of 2", "Denoising step 2 of 2"]
    result, = [e for e in seen_events if e["event"] == "result"]
    assert result["seed"] == 5 and result["prompt"] == "a red ceramic mug"
    assert helpers.temp_dirs() <= before
    assert not [m for m in helpers.HEAVY if m in sys.modules]
    # and it is kept in the saved .blend
    blend = str(tmp_path / "mug.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    bpy.ops.wm.open_mainfile(filepath=blend)
    assert bpy.data.images[obj_name].packed_file is not None


def test_panel_text_source(addon, tiny_t2i):
    """The panel's Text source passes the prompt and its settings to the operator."""
    from blender_img2mesh.blender.ui import properties

    s = addon.scene.img2mesh
    s.source, s.prompt, s.seed, s.steps, s.t2i_model = "TEXT", "a blue teapot", 3, 1, \
        tiny_t2i
    s.depth_model, s.remove_background, s.offline, s.max_size = "inflate", False, True, 64
    s.poisson_depth, s.filepath, s.mask_path = 6, "/no/such/photo.jpg", "/no/such/mask.png"
    kwargs = properties.operator_settings(s)
    assert kwargs["source"] == "TEXT" and kwargs["prompt"] == "a blue teapot"
    assert bpy.ops.img2mesh.generate("INVOKE_DEFAULT", **kwargs) == {"FINISHED"}
    assert addon.view_layer.objects.active.name == "a blue teapot"
    assert "a blue teapot" in bpy.data.images


def test_text_errors_leave_the_scene_alone(addon, tmp_path):
    objects, images = len(bpy.data.objects), len(bpy.data.images)
    with pytest.raises(RuntimeError, match="no prompt given"):
        generate(prompt="   ")
    with pytest.raises(RuntimeError, match="text-to-image model 'org/not-here'.*downloads "
                       "are off"):
        generate(prompt="a mug", t2i_model="org/not-here", models_dir=str(tmp_path))
    assert len(bpy.data.objects) == objects and len(bpy.data.images) == images
    assert os.listdir(tmp_path) == []
