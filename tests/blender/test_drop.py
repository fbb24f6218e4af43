"""Dropping a photo onto the 3D viewport (Blender 4.1+ FileHandler): registered,
offered for image files in the 3D viewport only, and it runs Generate with the panel's
settings.  (Blender 3.4, without file handlers, registers the add-on all the same:
test_headless.py.)"""

import json
import types

import bpy

import helpers
from blender_img2mesh.blender.ops import drop
from blender_img2mesh.blender.client import worker_client


def test_drop_handler_registered(addon):
    handler = bpy.types.FileHandler.bl_rna_get_subclass_py("IMG2MESH_FH_image")
    assert handler is drop.IMG2MESH_FH_image and handler.is_registered
    assert handler.bl_import_operator == "img2mesh.drop_image"
    assert {".png", ".jpg", ".jpeg"} <= set(handler.bl_file_extensions.split(";"))
    assert hasattr(bpy.ops.img2mesh, "drop_image")
    view3d = types.SimpleNamespace(area=types.SimpleNamespace(type="VIEW_3D"))
    image_editor = types.SimpleNamespace(area=types.SimpleNamespace(type="IMAGE_EDITOR"))
    assert handler.poll_drop(view3d) and not handler.poll_drop(image_editor)
    assert not handler.poll_drop(types.SimpleNamespace(area=None))


def test_dropped_photo_becomes_a_mesh_with_the_panels_settings(addon, fake_worker,
                                                               monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_WORKER_ARGS", str(tmp_path / "args.json"))
    worker_client.release()
    s = addon.scene.img2mesh
    s.back, s.use_fov, s.fov, s.source = "mirror", True, 33.0, "TEXT"
    photo = helpers.photo("chelsea.png")
    assert bpy.ops.img2mesh.drop_image(filepath=photo) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    assert obj is not None and obj.type == "MESH" and obj.name == "chelsea"
    assert len(obj.data.vertices) == 4
    args = json.loads((tmp_path / "args.json").read_text())["args"]
    assert args[0] == photo
    assert args[args.index("--back") + 1] == "mirror"
    assert float(args[args.index("--fov") + 1]) == 33.0
    assert (s.source, s.filepath) == ("FILE", photo)  # the panel shows the dropped photo
    # several files dropped (directory + files): the first one
    d, name = helpers.photo("coffee.png").rsplit("/", 1)
    assert bpy.ops.img2mesh.drop_image(directory=d, files=[{"name": name}]) == {"FINISHED"}
    assert addon.view_layer.objects.active.name == "coffee"
