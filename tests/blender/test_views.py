"""The Views source (several photos of one object -> one whole object): Generate sends one
``--views`` job through the worker, imports the object and, when asked, adds the recovered
cameras with their photos as background images; the sidecar's camera convention (COLMAP's)
becomes Blender cameras that see the object as the photos did; Cancel ends the worker in
every phase; too few photos is one clear error.  The worker is tests/blender/fake_python
(modes ``views``, ``views_hang``); the real method on a rendered set is test_views_real."""

import json
import math
import os
import shutil

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

import helpers
from blender_img2mesh.blender.client import jobs, view_cameras, worker_client
from blender_img2mesh.blender.scene import view_cameras as scene_cameras
from blender_img2mesh.blender.ui import panel_info

PHASES = ("features", "matching", "cameras", "surface", "texture")


def _photos(tmp_path, n=4, name="mug"):
    folder = tmp_path / name
    folder.mkdir()
    for k in range(n):
        shutil.copy(helpers.photo("chelsea.png"), folder / f"view_{k}.png")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def _pixel(scene, cam_obj, world_point):
    """Where Blender's camera puts a world point, in pixels (rows down, COLMAP's)."""
    x, y, _ = world_to_camera_view(scene, cam_obj, Vector(tuple(world_point)))
    r = scene.render
    return np.array([x * r.resolution_x, (1.0 - y) * r.resolution_y])


def _rotation(rng):
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def test_sidecar_cameras_reproject_like_K_R_t(addon):
    """Random cameras (K with an off-centre principal point, R, t) on an object that is
    moved and turned: Blender's camera puts every point on the pixel K (R X + t) gives."""
    rng = np.random.default_rng(3)
    bpy.ops.mesh.primitive_cube_add()
    obj = bpy.context.object
    obj.location, obj.rotation_euler = (1.0, -2.0, 0.5), (0.3, -0.2, 1.1)
    W, H = 640, 480
    cams = {}
    for k in range(3):
        R = _rotation(rng)
        C = rng.normal(size=3) * 3
        cams[f"p{k}.png"] = {"K": [[700.0 + 50 * k, 0, 330.0 - 7 * k], [0, 700.0 + 50 * k,
                                                                          236.0 + 5 * k],
                                   [0, 0, 1]], "R": R.tolist(), "t": (-R @ C).tolist()}
    made = scene_cameras.add_cameras(bpy.context, obj, view_cameras.from_sidecar(
        {"cameras": cams}, [], {n: (W, H) for n in cams}))
    assert [c.parent for c in made] == [obj] * 3
    bpy.context.view_layer.update()
    scene = bpy.context.scene
    assert (scene.render.resolution_x, scene.render.resolution_y) == (W, H)
    M = np.array(obj.matrix_world)
    for cam_obj, (name, cam) in zip(made, sorted(cams.items())):
        K, R, t = (np.array(cam[q]) for q in ("K", "R", "t"))
        C = -R.T @ t
        for _ in range(20):  # points in front of the camera, inside or near the frame
            X = C + R.T @ np.array([*rng.uniform(-0.4, 0.4, 2), 1.0]) * rng.uniform(1, 5)
            expected = (K @ (R @ X + t))[:2] / (R @ X + t)[2]
            world = M[:3, :3] @ X + M[:3, 3]
            assert np.allclose(_pixel(scene, cam_obj, world), expected, atol=1e-3), name


def test_views_generate_one_object_with_its_cameras(addon, fake_worker, tmp_path,
                                                    monkeypatch):
    fake_worker("views")
    monkeypatch.setenv("FAKE_WORKER_ARGS", str(tmp_path / "args.json"))
    folder = _photos(tmp_path)
    before = set(bpy.data.objects.keys())
    assert bpy.ops.img2mesh.generate(source="VIEWS", views=str(folder), view_cameras=True,
                                     size=2.0, offline=True) == {"FINISHED"}
    args = json.loads((tmp_path / "args.json").read_text())["args"]
    photos = [str(folder / f"view_{k}.png") for k in range(4)]
    assert args[:5] == ["--views", *photos] and args[5] == "-o"
    assert args[args.index("--size") + 1] == "2.0" and "--segmenter" in args
    assert not {"--back", "--depth-model", "--mesher", "--fov"} & set(args)
    obj = bpy.data.objects["mug"]  # named after the photos' folder
    assert obj.active_material is not None and len(obj.data.polygons) == 4
    cams = sorted((o for o in bpy.data.objects if o.type == "CAMERA"), key=lambda o: o.name)
    # the fake registers every photo but the last
    assert [c.name for c in cams] == [f"mug view_{k}" for k in range(3)]
    assert set(bpy.data.objects.keys()) - before == {"mug", *(c.name for c in cams)}
    assert obj[scene_cameras.CAMERAS_KEY] == ";".join(c.name for c in cams)
    assert bpy.data.collections["mug Cameras"].objects[:] == cams
    for k, cam in enumerate(cams):
        assert cam.parent == obj and cam.data.show_background_images
        image = cam.data.background_images[0].image
        assert bpy.path.abspath(image.filepath) == photos[k]
    # the fake's cameras: radius 4 around the object's origin, 20 degrees up, looking at
    # it; the principal point 3 px right of the centre (a lens shift)
    bpy.context.view_layer.update()
    origin = obj.matrix_world.translation
    w, h = bpy.data.images.load(photos[0], check_existing=True).size
    for cam in cams:
        offset = cam.matrix_world.translation - origin
        assert math.isclose(offset.length, 4.0, rel_tol=1e-5)
        assert math.isclose(math.degrees(math.asin(offset.z / 4.0)), 20.0, abs_tol=1e-3)
        assert np.allclose(_pixel(bpy.context.scene, cam, origin), (w / 2 + 3, h / 2),
                           atol=1e-3)
    assert not jobs.running()


def test_object_name_from_the_photos_folder():
    assert view_cameras.views_name(["/shots/mug/a.jpg", "/shots/mug/b.jpg"]) == "mug"
    assert view_cameras.views_name(["/shots/mug/images/a.jpg"]) == "mug"
    assert view_cameras.views_name(["/a.jpg"]) == "views"


def test_views_without_cameras_adds_none(addon, fake_worker, tmp_path):
    fake_worker("views")
    folder = _photos(tmp_path, 3, "cup")
    assert bpy.ops.img2mesh.generate(source="VIEWS", views=str(folder),
                                     offline=True) == {"FINISHED"}
    assert "cup" in bpy.data.objects
    assert not [o for o in bpy.data.objects if o.type == "CAMERA"]


@pytest.mark.parametrize("phase", PHASES)
def test_cancel_in_every_phase(addon, fake_worker, tmp_path, monkeypatch, phase):
    pidfile = fake_worker("views_hang")
    monkeypatch.setenv("FAKE_WORKER_STAGE", phase)
    folder = _photos(tmp_path)
    temp_dir = jobs.new_temp_dir()
    photos = [str(folder / f"view_{k}.png") for k in range(4)]
    runner = jobs.Runner(helpers.FAKE_PYTHON, ["--views", *photos, "-o",
                                               os.path.join(temp_dir, "views.ply")],
                         temp_dir).start()
    assert helpers.wait_until(lambda: (runner.tick() or True) and runner.stage == phase
                              and pidfile.exists() and pidfile.read_text().strip(), 30)
    worker_pid, child_pid = map(int, pidfile.read_text().split())
    assert runner.label == jobs.STAGE_LABELS[phase]
    if phase == "cameras":  # "cameras n/N" is the worker's message, shown as it comes
        assert runner.message.startswith("Recovering the cameras (")
    bpy.ops.img2mesh.cancel()  # the panel's button: the next timer tick cancels
    assert runner.tick() is True and runner.error == "cancelled"
    assert not helpers.pid_alive(worker_pid) and not helpers.pid_alive(child_pid)
    assert helpers.group_members(worker_pid) == []
    assert not os.path.exists(temp_dir) and not jobs.running()


def test_too_few_photos_is_one_clear_error(addon, fake_worker, tmp_path):
    panel_info.last_result = None
    folder = _photos(tmp_path, 2)
    worker_client.release()
    with pytest.raises(RuntimeError, match="at least 3 photos"):
        bpy.ops.img2mesh.generate(source="VIEWS", views=str(folder), offline=True)
    assert any("2 photos chosen" in m.full for m in panel_info.last)  # the box says why
    assert not [o for o in bpy.data.objects if o.type in ("MESH", "CAMERA")]
    assert worker_client.warm_worker() is None  # nothing was started
