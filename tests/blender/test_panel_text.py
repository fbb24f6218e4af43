"""The panel at the default sidebar width: short labels (nothing important cut), the
photo's file name, Resolution and Surface Detail (what "Detail" used to hide) reaching
the pipeline, the image and folder pickers, progress one line per stage (model loading
phases included), and errors: the first sentence in the popup, all of it in the Info log
and the panel."""

import os
import shutil
import subprocess
import types

import bpy
import pytest

import helpers
from blender_img2mesh.blender.client import jobs, worker_client
from blender_img2mesh.blender.ui import messages, panel_info, panels, pickers, properties
from blender_img2mesh.blender.ui import text as ui_text

from panel_record import SPLIT_LABEL_CHARS, draw, names, stage_lines, stage_text


def test_split_labels_fit_the_default_sidebar(scene):
    scene.depth_model, scene.back = "CUSTOM", "flat"
    for name in properties.AUTO_FIELDS:  # the toggles on: their values shown
        setattr(scene, "use_" + name, True)
    for source in ("FILE", "IMAGE", "TEXT", "VIEWS"):
        scene.source = source
        for panel in (panels.IMG2MESH_PT_main, panels.IMG2MESH_PT_advanced,
                      panels.IMG2MESH_PT_batch):
            record = draw(panel)
            long = [text for kind, text, split in record if split and
                    len(text) > SPLIT_LABEL_CHARS]
            assert long == [], (source, panel.__name__)
            assert all(text for kind, text, split in record if split)


def test_photo_shows_its_file_name_not_its_path(scene):
    scene.source = "FILE"
    record = draw(panels.IMG2MESH_PT_main)
    assert ("operator", "Choose a Photo...", False) in record
    scene.filepath = helpers.photo("chelsea.png")
    record = draw(panels.IMG2MESH_PT_main)
    assert ("operator", "chelsea.png", False) in record
    assert "filepath" not in names(record)  # the whole path: under Advanced
    assert all(os.path.dirname(scene.filepath) not in text for _, text, _ in record)
    assert "filepath" in names(draw(panels.IMG2MESH_PT_advanced))
    # the tooltip gives the whole path
    tip = pickers.IMG2MESH_OT_pick_image.description(bpy.context, None)
    assert scene.filepath in tip
    assert ui_text.file_name("//photos/cat.jpg") == "cat.jpg"
    assert ui_text.file_name("/models/my-glpn/") == "my-glpn"


def test_views_source_shows_the_photo_count_and_its_settings(scene, tmp_path):
    scene.source = "VIEWS"
    record = draw(panels.IMG2MESH_PT_main)
    assert ("operator", "Choose Photos...", False) in record
    folder = tmp_path / "mug"
    folder.mkdir()
    for k in range(4):
        shutil.copy(helpers.photo(), folder / f"view_{k}.png")
    (folder / "notes.txt").write_text("not a photo")
    assert bpy.ops.img2mesh.pick_views(directory=str(folder) + os.sep) == {"FINISHED"}
    assert scene.views_paths == str(folder) and scene.source == "VIEWS"
    record = draw(panels.IMG2MESH_PT_main)
    assert ("operator", "4 photos in mug", False) in record
    shown = names(record)
    # the photos give the whole shape: no depth model, back or detail; the cameras toggle
    assert "view_cameras" in shown and "segmenter" in shown and "size" in shown
    assert not {"depth_model", "back", "max_size", "add_camera"} & set(shown)
    assert "views_paths" in names(draw(panels.IMG2MESH_PT_advanced))
    # several files picked in the browser
    assert bpy.ops.img2mesh.pick_views(directory=str(folder) + os.sep, files=[
        {"name": "view_0.png"}, {"name": "view_2.png"}]) == {"FINISHED"}
    assert scene.views_paths == ";".join(str(folder / n) for n in ("view_0.png", "view_2.png"))
    assert ("operator", "2 photos in mug", False) in draw(panels.IMG2MESH_PT_main)


def test_resolution_and_surface_detail(scene):
    """Two settings, each named for what it is; Surface Detail only where it counts."""
    rna = scene.bl_rna.properties
    assert (rna["max_size"].name, rna["max_size"].subtype) == ("Resolution", "PIXEL")
    assert rna["poisson_depth"].name == "Surface Detail"
    scene.back, scene.mesher = "open", "auto"
    shown = names(draw(panels.IMG2MESH_PT_main))
    assert "max_size" in shown and "poisson_depth" not in shown  # the grid: no octree
    for back, mesher in (("flat", "auto"), ("mirror", "auto"), ("open", "poisson")):
        scene.back, scene.mesher = back, mesher
        shown = names(draw(panels.IMG2MESH_PT_main))
        assert "max_size" in shown and "poisson_depth" in shown
    texts = [text for kind, text, _ in draw(panels.IMG2MESH_PT_main) if kind == "prop"]
    assert "Detail" not in texts and "Resolution" in texts and "Surface Detail" in texts
    # both reach the pipeline's arguments, each as its own option
    scene.max_size, scene.poisson_depth = 384, 9
    args = properties.cli_args(scene, "/photos/cat.jpg", "/tmp/out.ply")
    assert args[args.index("--max-size") + 1] == "384"
    assert args[args.index("--poisson-depth") + 1] == "9"


def test_generate_passes_resolution_and_surface_detail(scene, fake_worker, tmp_path,
                                                       monkeypatch):
    monkeypatch.setenv("FAKE_WORKER_ARGS", str(tmp_path / "args.json"))
    worker_client.release()
    settings = properties.operator_settings(scene)
    settings.update(filepath=helpers.photo(), source="FILE", max_size=200, poisson_depth=7)
    assert bpy.ops.img2mesh.generate(**settings) == {"FINISHED"}
    import json

    args = json.loads((tmp_path / "args.json").read_text())["args"]
    assert args[args.index("--max-size") + 1] == "200"
    assert args[args.index("--poisson-depth") + 1] == "7"


def test_image_picker_filters_images_as_thumbnails(scene, tmp_path):
    rna = bpy.ops.img2mesh.pick_image.get_rna_type().properties
    assert rna["filter_image"].default is True and rna["filter_folder"].default is True
    assert rna["display_type"].default == "THUMBNAIL"
    assert rna["filepath"].subtype == "FILE_PATH"
    assert "filter_blender" not in rna  # nothing but images (and folders) listed
    assert bpy.ops.img2mesh.pick_image(filepath=helpers.photo("chelsea.png")) == {"FINISHED"}
    assert scene.filepath == helpers.photo("chelsea.png") and scene.source == "FILE"
    with pytest.raises(RuntimeError, match="no image file chosen"):
        bpy.ops.img2mesh.pick_image(filepath=str(tmp_path))


def test_model_folder_picker(scene, tmp_path):
    rna = bpy.ops.img2mesh.pick_model_folder.get_rna_type().properties
    assert rna["directory"].subtype == "DIR_PATH" and rna["filter_folder"].default is True
    assert "filepath" not in rna  # the browser selects a folder
    folder = tmp_path / "my-glpn"
    folder.mkdir()
    assert bpy.ops.img2mesh.pick_model_folder(directory=str(folder) + os.sep) == {"FINISHED"}
    assert scene.depth_model == "CUSTOM" and scene.depth_model_custom == str(folder)
    # the panel draws the field with the picker beside it
    record = draw(panels.IMG2MESH_PT_main)
    assert ("operator", "img2mesh.pick_model_folder", False) in record


def test_progress_one_line_per_stage(addon):
    runner = jobs.Runner("python", [], None, title="chelsea.png")
    events = [
        dict(stage="load", fraction=0.0, message="Loading chelsea.png"),
        dict(stage="model", fraction=0.02, message="Loading depth model (my-glpn)"),
        dict(stage="model", fraction=0.02, phase="read",
             message="Reading the depth model's files (my-glpn)"),
        dict(stage="model", fraction=0.09, phase="build",
             message="Creating the ONNX Runtime session (my-glpn)"),
        dict(stage="segment", fraction=0.14, message="Removing the background"),
    ]
    shown = []
    for event in events:
        runner._fold({"event": "progress", "stage_fraction": 0.0, **event})
        lines = stage_lines(runner)
        assert lines[-1] == "chelsea.png"  # the photo's file name, last
        assert stage_text(lines) == event["message"]  # the stage's words once, whole
        shown.append(stage_text(lines))
    assert len(set(shown)) == len(events)  # every phase moves the text on
    # a long message wraps in a narrow sidebar: nothing cut, never repeated
    runner.message = "Preparing the depth model for this machine (once)"
    lines = stage_lines(runner, width=180)
    assert len(lines) > 2 and "".join(lines).count("once") == 1


def test_phases_from_the_real_worker(addon, tmp_path, monkeypatch):
    """A custom model folder: the worker's events name its loading phases, and the
    progress block shows each as its line."""
    folder = str(tmp_path / "my-glpn")
    subprocess.run([helpers.PIPELINE_PYTHON, os.path.join(helpers.HERE, "make_tiny_glpn.py"),
                    folder], check=True, timeout=300)
    monkeypatch.setenv("IMG2MESH_PYTHON", helpers.PIPELINE_PYTHON)
    worker_client.release()
    s = addon.scene.img2mesh
    s.depth_model, s.depth_model_custom, s.remove_background = "CUSTOM", folder, False
    s.max_size, s.offline, s.models_dir = 64, True, str(tmp_path / "models")
    out = str(tmp_path / "out" / "photo.ply")
    os.makedirs(os.path.dirname(out))
    runner = jobs.Runner(helpers.PIPELINE_PYTHON,
                         properties.cli_args(s, helpers.photo(), out), str(tmp_path / "out"),
                         title="coffee.png").start()
    seen = []

    def on_event(event):
        if event["event"] == "progress":
            seen.append((event.get("phase"), stage_lines(runner)))

    try:
        assert runner.wait(on_event) is not None, runner.error
    finally:
        worker_client.release()
    phases = [phase for phase, _ in seen if phase]
    assert phases[0] == "read" and "build" in phases
    texts = [stage_text(lines) for phase, lines in seen if phase]
    assert "Reading the depth model's files (my-glpn)" in texts
    assert "Creating the ONNX Runtime session (my-glpn)" in texts
    assert all(str(tmp_path) not in " ".join(lines) for _, lines in seen)


def test_first_sentence():
    assert ui_text.first_sentence("No model. Press Download.") == "No model."
    assert ui_text.first_sentence("cannot read /x/model.safetensors: bad header") == \
        "cannot read /x/model.safetensors: bad header"
    assert ui_text.first_sentence("use e.g. a PNG file. Then retry.") == \
        "use e.g. a PNG file."


def test_error_popup_has_the_first_sentence_log_and_panel_all(scene, fake_worker):
    fake_worker("error")
    settings = properties.operator_settings(scene)
    settings.update(filepath=helpers.photo(), source="FILE")
    with pytest.raises(RuntimeError) as info:  # bpy.ops raises with the ERROR reports
        bpy.ops.img2mesh.generate(**settings)
    popup = str(info.value)
    assert "the fake model is not downloaded and downloads are off." in popup
    assert "Turn Offline off" not in popup and "Info log" in popup
    full = ("the fake model is not downloaded and downloads are off. Turn Offline off, or "
            "press Download in the add-on's preferences, then Generate again.")
    assert [(m.icon, m.full) for m in panel_info.last] == [("CANCEL", full)]
    assert panel_info.last_result is None  # no result: nothing stale
    # the panel's box: one line (the first sentence, or what of it fits), the whole
    # text in the line's tooltip (and popup)
    record = draw(panels.IMG2MESH_PT_main)
    shown = [text for kind, text, _ in record if kind == "label"]
    line = [t for t in shown if t.startswith("the fake model")]
    assert len(line) == 1 and "Turn Offline off" not in line[0]
    assert messages.IMG2MESH_OT_message.description(
        bpy.context, types.SimpleNamespace(key="result0")) == full

    class Op:  # what reaches the Info log: the whole text, and the short popup
        reports = []

        def report(self, kind, text):
            self.reports.append((set(kind), text))

    ui_text.report_error(Op(), full, "the Info log")
    assert Op.reports == [
        ({"INFO"}, f"Img2Mesh: {full}"),
        ({"ERROR"}, "Img2Mesh: the fake model is not downloaded and downloads are off. "
                    "(all of it: the Info log)")]
    Op.reports = []
    ui_text.report_error(Op(), "one short sentence")
    assert Op.reports == [({"ERROR"}, "Img2Mesh: one short sentence")]


def test_wrapped_lines_keep_all_text_within_the_width():
    text = ("depth model depth-anything-v2-small is not available (depth-anything/Depth-"
            "Anything-V2-Small-hf); put the model at /tmp/models/depth-anything--Depth-"
            "Anything-V2-Small-hf")
    for width in (90, 125, 165, 400):
        lines = ui_text.lines_for(text, width)
        assert all(ui_text.text_px(line) <= width for line in lines)
        assert "".join("".join(lines).split()) == "".join(text.split())
    # a long hub id breaks after its dashes and slashes, not inside a word
    assert ui_text.lines_for("depth-anything/Depth-Anything-V2-Small-hf", 125) == [
        "depth-anything/", "Depth-Anything-V2-", "Small-hf"]


#: every numeric field the panel shows (main panel and Advanced, the text source's too)
