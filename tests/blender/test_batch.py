"""The Blender batch: a folder (or several files) -> one object per photo in a new
collection, side by side (beside everything already there), through the warm worker (one
process for all photos); a broken photo is reported (by name, in the result box) and
skipped; Cancel keeps what is finished."""

import os
import shutil
import time

import bpy

import helpers
from blender_img2mesh.blender.client import batch_jobs, jobs, worker_client
from blender_img2mesh.blender.scene import placement
from blender_img2mesh.blender.ui import panel_info

FAST = dict(depth_model="inflate", remove_background=False, max_size=96, offline=True,
            size=2.0)


def _folder(tmp_path, n=3):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg")[:n]:
        shutil.copy(helpers.photo(name), folder / name)
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_folder_batch_objects_side_by_side_warm_worker(addon, tmp_path, monkeypatch):
    worker_client.release()
    started = []

    class Counted(worker_client.WorkerProcess):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            started.append(self.pid)

    monkeypatch.setattr(worker_client, "WorkerProcess", Counted)
    folder = _folder(tmp_path)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    before = set(bpy.data.objects.keys())
    result = bpy.ops.img2mesh.batch(directory=str(folder), **FAST)
    assert result == {"FINISHED"}
    colls = [c for c in bpy.data.collections if c.name.startswith("Img2Mesh Batch")]
    assert len(colls) == 1 and colls[0].name in bpy.context.scene.collection.children
    objs = sorted(colls[0].objects, key=lambda o: o.location.x)
    # broken.jpg failed alone (a warning), the three photos are there, in name order
    assert [o.name for o in objs] == ["astronaut", "chelsea", "coffee"]
    assert set(bpy.data.objects.keys()) - before == {"astronaut", "chelsea", "coffee"}
    xs = [o.location.x for o in objs]
    assert xs[0] == 0.0 and xs == sorted(xs)  # the first at the 3D cursor, then beside
    assert helpers.overlapping_pairs(objs) == []
    for a, b in zip(objs, objs[1:]):  # GAP between neighbours
        gap = placement.world_bounds(b)[0].x - placement.world_bounds(a)[1].x
        assert abs(gap - placement.GAP) < 1e-4
    # the result box: the batch's summary and the failure, by name, in the panel's words
    lines = [m.full for m in panel_info.last]
    assert lines[0].startswith("Batch: 3 of 4 photos done in ")
    assert lines[1].startswith("broken.jpg failed: ") and "Pillow" not in lines[1]
    assert len(lines) == 2
    for o in objs:
        assert len(o.data.polygons) > 100 and o.active_material is not None
        assert o["img2mesh_source"] == str(folder / f"{o.name}.png")
        assert o.users_collection[0] == colls[0]
    # one warm worker did every photo (models loaded once)
    warm = worker_client.warm_worker()
    assert warm is not None and warm.alive() and started == [warm.pid]
    assert not jobs.running()
    worker_client.release()


def test_several_files_then_cancel_keeps_the_finished(addon, tmp_path):
    worker_client.release()
    folder = _folder(tmp_path, 4)
    files = [str(folder / n) for n in ("rocket.jpg", "coffee.png", "chelsea.png")]
    assert batch_jobs.photos_in(files + [str(folder)]) == files + [str(folder / "astronaut.png")]
    # several files given to the operator (as the file browser's multi-selection does)
    assert bpy.ops.img2mesh.batch(paths=";".join(files[:2]), **FAST) == {"FINISHED"}
    coll = [c for c in bpy.data.collections if c.name.startswith("Img2Mesh Batch")][0]
    assert sorted(o.name for o in coll.objects) == ["coffee", "rocket"]

    # the modal path as the panel drives it: timer ticks, Cancel after the first photo
    made = []

    def make_args(photo, temp_dir):
        return [photo, "-o", f"{temp_dir}/{os.path.basename(photo)}.ply", "--depth-model",
                "inflate", "--keep-background", "--max-size", "256", "--back", "mirror",
                "--offline"]

    runner = batch_jobs.BatchRunner(helpers.PIPELINE_PYTHON, files, make_args,
                                    lambda photo, r: made.append((photo, r.mesh_path())))
    runner.start()
    assert jobs.current is runner and runner.label.startswith("1 / 3")
    deadline = time.monotonic() + 120
    while not made and time.monotonic() < deadline:
        runner.tick()
        time.sleep(0.02)
    assert [m[0] for m in made] == files[:1] and made[0][1].endswith("rocket.jpg.ply")
    assert runner.label.startswith("2 / 3") and 1 / 3 <= runner.fraction < 1
    assert jobs.running() and jobs.current is runner  # the panel shows the batch
    pid = runner.inner.job.worker.pid
    bpy.ops.img2mesh.cancel()  # the panel's Cancel: the next tick stops the batch
    assert runner.tick() is True
    assert runner.error == "cancelled" and runner.done == files[:1]
    assert not jobs.running() and not helpers.pid_alive(pid)
    assert not os.path.exists(runner.inner.temp_dir)


def test_files_picked_in_the_file_browser(addon, tmp_path):
    """*Choose Files...*: the file browser hands the operator ``directory`` (with its
    trailing separator) and ``files`` (the picked names, the folder's other photos not
    picked); invoked like that (INVOKE_DEFAULT, which in background mode runs execute)
    and executed like that, each makes one object per picked photo in a new collection."""
    worker_client.release()
    folder = _folder(tmp_path, 4)
    picked = ["rocket.jpg", "chelsea.png"]  # in the order the browser lists them
    for how in ("INVOKE_DEFAULT", "EXEC_DEFAULT"):
        before = {c.name for c in bpy.data.collections}
        result = bpy.ops.img2mesh.batch(how, directory=str(folder) + os.sep,
                                        files=[{"name": n} for n in picked], **FAST)
        assert result == {"FINISHED"}, how
        new = [c for c in bpy.data.collections if c.name not in before]
        assert len(new) == 1 and new[0].name.startswith("Img2Mesh Batch")
        assert new[0].name in bpy.context.scene.collection.children
        objs = sorted(new[0].objects, key=lambda o: o.location.x)
        assert [o["img2mesh_source"] for o in objs] == [str(folder / n) for n in picked]
        assert helpers.overlapping_pairs(list(bpy.context.scene.objects)) == []
        assert all(len(o.data.polygons) > 100 for o in objs)
    # the browser with nothing picked (one empty name): the whole folder
    before = {c.name for c in bpy.data.collections}
    assert bpy.ops.img2mesh.batch(directory=str(folder) + os.sep, files=[{"name": ""}],
                                  **FAST) == {"FINISHED"}
    new = [c for c in bpy.data.collections if c.name not in before][0]
    assert sorted(o["img2mesh_source"] for o in new.objects) == \
        sorted(str(folder / n) for n in ("astronaut.png", "chelsea.png", "coffee.png",
                                         "rocket.jpg"))
    worker_client.release()
