"""The modal operator in a real, windowed Blender (Debian's blender under Xvfb):
Generate runs without blocking Blender, the panel shows progress, Cancel kills the worker.
Needs: apt-get install -y blender xvfb."""

import json
import os
import shutil

import helpers


def test_modal_generate_and_cancel_in_windowed_blender(tmp_path):
    out, shot = tmp_path / "gui.json", tmp_path / "panel.png"
    proc = helpers.run_in_window("gui_check.py", [helpers.photo("astronaut.png"), out, shot],
                                 tmp_path)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["errors"] == []
    assert r["first_invoke"] == ["RUNNING_MODAL"] and r["second_invoke"] == ["RUNNING_MODAL"]
    assert r["ticks_while_running"] >= 3  # Blender's event loop kept running
    assert r["object"] == "astronaut" and r["vertices"] > 1000
    assert r["cancel_pid"] == r["warm_pid"]  # the second run reused the warm worker
    # the panel's first draw started the worker ahead, and the first Generate used it
    assert r["ahead_pid"] == r["warm_pid"] and r["ahead_preloading"] is True
    assert r["first_label"] == "Loading models"  # queued behind the preload
    assert r["cancelled_worker_alive"] is False and r["cancel_temp_exists"] is False
    assert r["objects"] == 2  # the default cube and the first result: no half result
    assert r["heavy"] == []
    assert shot.stat().st_size > 10000


def test_modal_batch_and_cancel_keeps_finished_in_windowed_blender(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        shutil.copy(helpers.photo(name), folder / name)
    out, shot = tmp_path / "gui.json", tmp_path / "batch.png"
    proc = helpers.run_in_window("gui_batch_check.py", [folder, out, shot], tmp_path)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["errors"] == []
    assert r["invoke"] == ["RUNNING_MODAL"] and r["ticks_while_running"] >= 3
    assert r["labels"][:2] == ["1 / 3", "2 / 3"] and r["total"] == 3
    assert r["kept"] and r["kept"][0] == "astronaut" and len(r["kept"]) < 3
    assert r["xs"] == sorted(r["xs"]) and len(set(r["xs"])) == len(r["kept"])
    assert r["cancelled_worker_alive"] is False and r["cancel_temp_exists"] is False
    assert shot.stat().st_size > 10000


def test_panel_shots_and_the_image_browser_in_windowed_blender(tmp_path):
    """gui_panel_shot.py: the sidebar's shots at its default width, and the photo's
    button opening Blender's file browser in the photo's folder, images only, as
    thumbnails (Blender 3.4 under Xvfb)."""
    photos, models = tmp_path / "photos", tmp_path / "models"
    photos.mkdir()
    models.mkdir()
    shutil.copy(helpers.photo("chelsea.png"), photos / "chelsea.png")
    shot = tmp_path / "panel.png"
    proc = helpers.run_in_window("gui_panel_shot.py", [photos / "chelsea.png", models, shot],
                                 tmp_path, screen="1600x1800")
    lines = proc.stdout.splitlines()
    picker = [line.split() for line in lines if line.startswith("PICKER ")]
    assert picker == [["PICKER", f"{photos}/", "THUMBNAIL", "True", "True", "True", "False"]], \
        proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SIDEBAR_WIDTH 229 1.0" in lines  # the default width the labels are made for
    for name in ("panel.png", "panel_before.png", "panel_picker.png"):
        assert (tmp_path / name).stat().st_size > 10000


def test_preferences_shot_at_the_default_window_size(tmp_path):
    """gui_prefs_shot.py: Blender's Preferences window opens at its default size on the
    add-on (listed as installed, expanded) and is shot as it opens and scrolled to the
    models box; its main region is the width the model rows are made for
    (test_preferences_text.py); the scripts folder it made is gone after."""
    models, shot = tmp_path / "models", tmp_path / "prefs.png"
    models.mkdir()
    proc = helpers.run_in_window("gui_prefs_shot.py", [models, shot], tmp_path,
                                 screen="1600x1800")
    lines = proc.stdout.splitlines()
    assert "PREFS_REGION 521 1.0" in lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("prefs.png", "prefs_models.png"):
        assert (tmp_path / name).stat().st_size > 10000
    scripts = [line.split()[1] for line in lines if line.startswith("SCRIPTS ")]
    assert len(scripts) == 1 and not os.path.exists(scripts[0])


def test_choose_files_through_blenders_file_browser(tmp_path):
    """*Choose Files...*: Blender's own file browser opens, the photos selected in it (the
    image files with an "e" in their name: not astronaut.png, not notes.txt) become one
    object each in a new collection, the batch running modally after the browser."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"):
        shutil.copy(helpers.photo(name), folder / name)
    (folder / "notes.txt").write_text("not a photo")
    out = tmp_path / "browse.json"
    proc = helpers.run_in_window("gui_browse_check.py", [folder, out], tmp_path)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["errors"] == []
    assert r["invoke"] == ["RUNNING_MODAL"]  # the browser is open, Blender runs on
    assert r["browser_title"] == "Generate Batch" and r["execute"] == ["FINISHED"]
    assert r["photos"] == ["chelsea.png", "coffee.png", "rocket.jpg"]
    assert r["ticks_while_running"] >= 1  # modal after the browser: Blender kept going
    assert r["collections"] == ["Img2Mesh Batch"]
    assert [(name, source) for name, _, _, source in r["objects"]] == [
        ("chelsea", str(folder / "chelsea.png")), ("coffee", str(folder / "coffee.png")),
        ("rocket", str(folder / "rocket.jpg"))]
    xs = [x for _, x, _, _ in r["objects"]]  # beside the default cube, then each other
    assert xs == sorted(xs) and xs[0] > 1.0
    assert all(faces > 100 for _, _, faces, _ in r["objects"])


def test_the_issues_scene_in_windowed_blender(tmp_path):
    """gui_scene_check.py: the default cube, one Generate (offline: the depth fallback),
    a batch of three, a batch cancelled during its second photo, another batch: no two
    meshes overlap, the view framed the result, and the result box always says the last
    action in one line; the sidebar's shots (during and after a batch, after Cancel,
    after the fallback) show Advanced and Batch."""
    folders = []
    for name in ("a", "b", "c"):
        folder = tmp_path / name
        folder.mkdir()
        for photo in ("astronaut.png", "chelsea.png", "coffee.png"):
            shutil.copy(helpers.photo(photo), folder / photo)
        folders.append(folder)
    (tmp_path / "models").mkdir()
    shots, out = tmp_path / "shots", tmp_path / "scene.json"
    shots.mkdir()
    proc = helpers.run_in_window("gui_scene_check.py", [
        helpers.photo("rocket.jpg"), *folders, tmp_path / "models", out, shots], tmp_path,
        screen="1600x1800", timeout=600)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["errors"] == []
    assert r["overlapping_pairs"] == [] and len(r["meshes"]) == 1 + 1 + 3 + 1 + 3
    assert r["view_to_result"] < 0.05  # Frame New Results: the view moved to it
    boxes = r["boxes"]
    assert boxes["generate"][0].startswith("rocket: ") and \
        boxes["generate"][0].endswith("depth: silhouette inflation")
    assert len(boxes["generate"]) == 1  # the fallback: on the depth line only
    assert boxes["batch_a"][0].startswith("Batch: 3 of 3 photos done in ")
    assert boxes["batch_b"] == ["Cancelled: 1 of 3 photos kept, the rest not made"]
    assert len(r["kept_b"]) == 1 and boxes["batch_c"][0].startswith("Batch: 3 of 3 photos")
    line = r["progress_lines"][0]
    k, photo, stage, pct = line.split(" \u2014 ")
    assert k.endswith(" / 3") and photo.endswith(".png") and pct.endswith("%")
    for name in ("fallback.png", "batch_during.png", "batch_after.png", "cancelled.png"):
        assert (shots / name).stat().st_size > 10000
