"""*Replace Last Result*: Generate updates the previous result (mesh, material, texture,
its camera) in place; the user's objects and scene camera stay.  And no redo panel:
Generate and Batch push an undo step but register no redo (a redo would re-run the job
synchronously).  Undo itself needs a window: tests/blender/gui_replace_check.py."""

import bpy

import helpers
from blender_img2mesh.blender.ops import batch as batch_ops, generate as operators
from blender_img2mesh.blender.scene import mesh_import
from blender_img2mesh.blender.ui import properties


def _results(scene):
    return [o for o in scene.objects if o.type == "MESH" and "img2mesh_depth_model" in o]


def test_generate_and_batch_have_undo_but_no_redo_panel():
    for op in (operators.IMG2MESH_OT_generate, batch_ops.IMG2MESH_OT_batch):
        assert "UNDO" in op.bl_options and "REGISTER" not in op.bl_options


def test_three_generates_replace_one_result_and_its_camera(addon, fake_worker):
    fake_worker("texture")
    scene = addon.scene
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(-5, 0, 0))  # the user's own
    cube = addon.view_layer.objects.active
    user_cam = bpy.data.objects.new("My Camera", bpy.data.cameras.new("My Camera"))
    scene.collection.objects.link(user_cam)
    scene.camera = user_cam
    scene.render.resolution_x, scene.render.resolution_y = 1000, 500
    s = scene.img2mesh
    s.replace_last = True
    assert properties.operator_settings(s)["replace_last"] is True  # the panel's button
    names = []
    for i in range(3):
        kw = properties.operator_settings(s)
        kw.update(filepath=helpers.photo(), add_camera=True)
        assert bpy.ops.img2mesh.generate(**kw) == {"FINISHED"}
        obj = addon.view_layer.objects.active
        names.append(obj.name)
        assert s.last_result == obj
        if i == 0:
            obj.location = (3.0, 1.0, 0.5)  # the user moves it: it stays there
            first_mesh = obj.data.name
    results = _results(scene)
    assert len(results) == 1 and names == [results[0].name] * 3
    obj = results[0]
    assert tuple(obj.location) == (3.0, 1.0, 0.5)
    assert obj.data.name == first_mesh and len(bpy.data.meshes) == 2  # the cube's + this
    cameras = [o for o in scene.objects if o.type == "CAMERA"]
    assert sorted(c.name for c in cameras) == sorted(["My Camera", obj.name + " Camera"])
    assert mesh_import.result_camera(addon, obj).name == obj.name + " Camera"
    assert len(bpy.data.cameras) == 2
    # the old materials and textures went with the old meshes
    assert [m.name for m in bpy.data.materials] == [obj.active_material.name]
    images = [i for i in bpy.data.images if i.name.endswith("Texture")]
    assert [i.name for i in images] == [obj.name + " Texture"]
    assert obj.active_material.node_tree.nodes["Img2Mesh Texture"].image == images[0]
    # the user's cube, camera and render size are untouched
    assert cube.name in scene.objects and tuple(cube.location) == (-5, 0, 0)
    assert scene.camera == user_cam
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1000, 500)


def test_replace_off_adds_and_a_deleted_last_result_starts_anew(addon, fake_worker):
    s = addon.scene.img2mesh
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo()) == {"FINISHED"}
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo()) == {"FINISHED"}
    assert len(_results(addon.scene)) == 2  # the default: a new object each time
    last = s.last_result
    assert last == addon.view_layer.objects.active
    bpy.data.objects.remove(last)
    assert properties.last_result(addon) is None
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo(), replace_last=True) \
        == {"FINISHED"}
    assert len(_results(addon.scene)) == 2 and s.last_result is not None


def test_replace_keeps_a_mesh_someone_else_uses(addon, fake_worker):
    """A linked duplicate shares the mesh: the duplicate keeps the old mesh."""
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo()) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    twin = obj.copy()  # shares obj.data
    addon.scene.collection.objects.link(twin)
    old = obj.data
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo(), replace_last=True) \
        == {"FINISHED"}
    assert addon.view_layer.objects.active == obj and obj.data != old
    assert twin.data == old and old.name in bpy.data.meshes


def test_undo_check_and_replace_in_windowed_blender(tmp_path):
    """Blender 3.4 under Xvfb (gui_replace_check.py): Check Dependencies answers through
    its timer; Undo removes a Generate's result and steps back through replacements; no
    redo panel; one result and one camera of its own after three Generates."""
    import json

    out = tmp_path / "gui.json"
    proc = helpers.run_in_window("gui_replace_check.py",
                                 [helpers.photo(), out, helpers.FAKE_PYTHON], tmp_path,
                                 screen="1280x800")
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["errors"] == []
    # Check Dependencies: back at once, the answer later through the timer
    assert r["check"] == ["FINISHED"] and r["check_running_after_return"] is True
    assert r["status_after_return"] == "not checked" and r["check_ticks"] >= 3
    assert r["status_later"].startswith(f"OK - {helpers.PIPELINE_PYTHON}: Python ")
    # Generate, Undo: gone; nothing to redo
    assert r["gen1"] == ["RUNNING_MODAL"] and r["after_gen1"] == ["coffee"]
    assert r["undo1"] == ["FINISHED"] and r["after_undo1"] == []
    # Generate is in the operator list (undo operators are), but not as one to redo
    assert r["registered_ops"] == ["IMG2MESH_OT_generate"]
    assert r["redo_after_gen1"] is False and r["redo_after_gens"] is False
    assert r["redo_after_cube"] is True  # an operator with a redo panel, to compare
    # three Generates, the last two replacing: one result throughout
    assert r["gens"] == [["RUNNING_MODAL"]] * 3
    assert r["after_gens"] == [[["coffee"], "VERTEX"], [["coffee"], "TEXTURE"],
                               [["coffee"], "VERTEX"]]
    assert r["cameras"] == ["Camera", "coffee Camera"] and r["scene_camera"] == "Camera"
    # Undo: back one Generate at a time
    assert r["undo2"] == ["FINISHED"] and r["after_undo2"] == [["coffee"], "TEXTURE"]
    assert r["undo3"] == ["FINISHED"] and r["after_undo3"] == [["coffee"], "VERTEX",
                                                               ["Camera", "coffee Camera"]]


def test_replacing_with_another_photo_renames_the_result(addon, fake_worker):
    fake_worker("texture")
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo(), add_camera=True) \
        == {"FINISHED"}
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo("astronaut.png"),
                                     add_camera=True, replace_last=True) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    assert _results(addon.scene) == [obj] and obj.name == "astronaut"
    assert obj.data.name == obj.active_material.name == "astronaut"
    assert [i.name for i in bpy.data.images] == ["astronaut Texture"]
    cameras = [o for o in addon.scene.objects if o.type == "CAMERA"]
    assert [c.name for c in cameras] == ["astronaut Camera"] and \
        cameras[0].data.name == "astronaut Camera"
    assert mesh_import.base_name("cup.001") == "cup" and \
        mesh_import.base_name("v1.5") == "v1.5"
