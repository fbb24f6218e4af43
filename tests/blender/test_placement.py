"""Where results land: beside one another and beside what the scene holds (never
inside another object's bounds), or at the 3D cursor; one camera per result, and the
render size changes only when a result's camera becomes the scene camera."""

import itertools

import addon_utils
import bpy
import pytest

import helpers
from blender_img2mesh.blender.scene import mesh_import, placement


def _overlap(a, b):
    (alo, ahi), (blo, bhi) = placement.world_bounds(a), placement.world_bounds(b)
    return all(alo[i] < bhi[i] and blo[i] < ahi[i] for i in range(3))


def test_five_results_side_by_side_with_their_cameras(addon, fake_worker):
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0, 0, 0))  # the default cube
    cube = addon.view_layer.objects.active
    addon.scene.cursor.location = (0.0, 2.0, 1.0)
    results = []
    for _ in range(5):
        assert bpy.ops.img2mesh.generate(filepath=helpers.photo(), add_camera=True) \
            == {"FINISHED"}
        results.append(addon.view_layer.objects.active)
    assert len({o.name for o in results}) == 5 and cube.name not in {o.name for o in results}
    addon.view_layer.update()
    for a, b in itertools.combinations([cube, *results], 2):
        assert not _overlap(a, b), f"{a.name} overlaps {b.name}"
    for obj in results:  # at the cursor's height and depth, along +X
        assert tuple(obj.location)[1:] == pytest.approx((2.0, 1.0))
    xs = [o.location.x for o in results]
    assert xs == sorted(xs) and xs[0] >= 1.0 + placement.GAP
    cameras = [o for o in addon.scene.objects if o.type == "CAMERA"]
    assert sorted(c.name for c in cameras) == sorted(o.name + " Camera" for o in results)
    # the scene had no camera: each result's took over from the previous result's
    assert addon.scene.camera.name == results[-1].name + " Camera"


def test_cursor_placement(addon, tmp_path):
    verts, colors, tris = helpers.grid_mesh(5)
    path = tmp_path / "grid.ply"
    helpers.write_ply(path, verts, colors, tris)
    addon.scene.cursor.location = (1.0, 2.0, 3.0)
    first = mesh_import.import_result(addon, str(path), "a", placement="CURSOR")
    second = mesh_import.import_result(addon, str(path), "b", placement="CURSOR")
    beside = mesh_import.import_result(addon, str(path), "c")  # the default: beside
    assert tuple(first.location) == tuple(second.location) == (1.0, 2.0, 3.0)
    assert beside.location.x == pytest.approx(1.0 + verts[:, 0].max() + placement.GAP)
    assert tuple(beside.location)[1:] == (2.0, 3.0)


def test_render_size_follows_only_the_scene_camera(addon):
    """Real pipeline (fast options): a user's camera stays the scene camera and the
    render size stays; without one, the result's camera takes over with the photo's
    aspect."""
    fast = dict(depth_model="inflate", remove_background=False, max_size=64,
                add_camera=True)
    render = addon.scene.render
    render.resolution_x, render.resolution_y = 1920, 1080
    cam_data = bpy.data.cameras.new("Mine")
    mine = bpy.data.objects.new("Mine", cam_data)
    addon.scene.collection.objects.link(mine)
    addon.scene.camera = mine
    photo = helpers.photo("astronaut.png")  # square
    assert bpy.ops.img2mesh.generate(filepath=photo, **fast) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    cam = bpy.data.objects[obj.name + " Camera"]
    assert addon.scene.camera == mine and (render.resolution_x, render.resolution_y) \
        == (1920, 1080)
    w, h = cam["img2mesh_resolution"]
    assert w == h  # the photo's (working) size, kept on its camera
    addon.scene.camera = None
    assert bpy.ops.img2mesh.generate(filepath=photo, **fast) == {"FINISHED"}
    second = addon.view_layer.objects.active
    assert addon.scene.camera.name == second.name + " Camera"
    assert (render.resolution_x, render.resolution_y) == (1920, 1920)
    assert not _overlap(obj, second)


def test_placement_preference(fake_worker, monkeypatch):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    monkeypatch.delenv("IMG2MESH_PYTHON")
    assert addon_utils.enable("blender_img2mesh", default_set=True, handle_error=None)
    try:
        prefs = bpy.context.preferences.addons["blender_img2mesh"].preferences
        prefs.python_path = helpers.FAKE_PYTHON
        assert prefs.placement == "BESIDE"
        prefs.placement = "CURSOR"
        bpy.context.scene.cursor.location = (0.5, 0.5, 0.5)
        for _ in range(2):
            assert bpy.ops.img2mesh.generate(filepath=helpers.photo()) == {"FINISHED"}
            assert tuple(bpy.context.view_layer.objects.active.location) == (0.5, 0.5, 0.5)
    finally:
        addon_utils.disable("blender_img2mesh", default_set=True)


FAST = dict(depth_model="inflate", remove_background=False, max_size=96, offline=True)


def _photos(tmp_path, name):
    import shutil

    folder = tmp_path / name
    folder.mkdir()
    for photo in ("astronaut.png", "chelsea.png", "coffee.png"):
        shutil.copy(helpers.photo(photo), folder / photo)
    return str(folder)


def _result_box():
    from blender_img2mesh.blender.ui import panel_info

    return [m.full for m in panel_info.last]


def _default_scene(addon):
    """The default scene's meshes: the 2 m cube at the origin (3D cursor there too)."""
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0, 0, 0))
    addon.scene.cursor.location = (0.0, 0.0, 0.0)


def test_generate_then_two_batches_overlap_nothing(addon, tmp_path):
    """The issue's scene: the default cube, one Generate, then two batches of three
    photos (the real worker, fast settings): 0 overlapping pairs among the 8 meshes; the
    second batch beside the first; the result box says each batch's summary."""
    _default_scene(addon)
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo("rocket.jpg"), **FAST) == \
        {"FINISHED"}
    for name in ("first", "second"):
        assert bpy.ops.img2mesh.batch(directory=_photos(tmp_path, name), **FAST) == \
            {"FINISHED"}
        assert _result_box()[0].startswith("Batch: 3 of 3 photos done in ")
    meshes = [o for o in addon.scene.objects if o.type == "MESH"]
    assert len(meshes) == 8
    assert helpers.overlapping_pairs(meshes) == []
    first, second = sorted((c for c in bpy.data.collections
                            if c.name.startswith("Img2Mesh Batch")), key=lambda c: c.name)
    end_of_first = max(placement.world_bounds(o)[1].x for o in first.objects)
    assert min(placement.world_bounds(o)[0].x for o in second.objects) > end_of_first


def test_cancel_in_the_middle_then_a_batch_overlap_nothing(addon, tmp_path, monkeypatch):
    """Cancel pressed while a batch's first photo is imported: that one is kept ("1 of
    3 kept" in the result box), the next batch lands beside it -- nothing overlaps."""
    _default_scene(addon)
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo("rocket.jpg"), **FAST) == \
        {"FINISHED"}
    real_import = mesh_import.import_result

    def import_then_cancel(*args, **kw):
        obj = real_import(*args, **kw)
        assert bpy.ops.img2mesh.cancel() == {"FINISHED"}  # the panel's Cancel
        return obj

    monkeypatch.setattr(mesh_import, "import_result", import_then_cancel)
    assert bpy.ops.img2mesh.batch(directory=_photos(tmp_path, "first"), **FAST) == \
        {"FINISHED"}
    assert _result_box() == ["Cancelled: 1 of 3 photos kept, the rest not made"]
    monkeypatch.setattr(mesh_import, "import_result", real_import)
    assert bpy.ops.img2mesh.batch(directory=_photos(tmp_path, "second"), **FAST) == \
        {"FINISHED"}
    meshes = [o for o in addon.scene.objects if o.type == "MESH"]
    assert len(meshes) == 1 + 1 + 1 + 3
    assert helpers.overlapping_pairs(meshes) == []
    assert _result_box()[0].startswith("Batch: 3 of 3 photos done in ")


def test_frame_results_is_a_preference_and_a_no_op_headless(addon, fake_worker):
    from blender_img2mesh.blender.ui import preferences

    rna = preferences.IMG2MESH_AP_preferences.bl_rna.properties["frame_results"]
    assert rna.default is True and rna.type == "BOOLEAN"
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo()) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    assert placement.frame(addon, [obj]) == 0  # no window: nothing to frame
