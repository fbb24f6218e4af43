"""The panel's fields and buttons (issue 23): every numeric field's limits are the
worker's own checks (pipeline/catalog.py), fields where 0 meant automatic say "Auto",
buttons are enabled only when they can work (the reason beside them), the worker's
refusals come back in the panel's words, and a batch's progress says k / N."""

import bpy
import pytest

import helpers
from blender_img2mesh.blender.client import batch_jobs, jobs, worker_client
from blender_img2mesh.blender.ui import panel_info, panels, properties
from blender_img2mesh.blender.ui import text as ui_text

from panel_record import draw, names, stage_lines


NUMERIC_FIELDS = ("size", "max_size", "poisson_depth", "fov", "thickness", "target_faces",
                  "texture_size", "steps")


def test_field_limits_are_the_workers_checks(scene):
    """For every numeric field: the panel's min/max are the worker's check (the catalog's
    range), so the panel never lets through a value the worker refuses."""
    from blender_img2mesh.pipeline import catalog

    rna = scene.bl_rna.properties
    for name in NUMERIC_FIELDS:
        rng = catalog.RANGES[name]
        assert rna[name].hard_min == pytest.approx(rng.low, rel=1e-6), name
        assert rna[name].hard_max == pytest.approx(rng.high, rel=1e-6), name
        assert (rna[name].type == "INT") == rng.whole, name
        assert rna[name].name == rng.label, name  # the label errors are said with
    # the seed: an IntProperty holds 32 bits, inside the worker's range
    rng = catalog.RANGES["seed"]
    assert rna["seed"].hard_min == rng.low and rna["seed"].hard_max <= rng.high
    # the operator takes the same limits
    op = bpy.ops.img2mesh.generate.get_rna_type().properties
    for name in NUMERIC_FIELDS:
        assert (op[name].hard_min, op[name].hard_max) == (rna[name].hard_min,
                                                          rna[name].hard_max)
    # the values the issue found accepted: clamped to what the worker takes
    scene.target_faces, scene.texture_size = 1, 1
    assert (scene.target_faces, scene.texture_size) == (4, 16)


def test_automatic_fields_say_auto(scene):
    """0 = automatic is visible: a toggle, and "Auto" while it is off; on, the value
    reaches the worker, off, nothing does."""
    scene.source = "FILE"
    record = draw(panels.IMG2MESH_PT_advanced)
    for name in ("fov", "thickness", "target_faces", "texture_size"):
        assert "use_" + name in names(record) and name not in names(record)
    assert [t for k, t, _ in record if k == "label"].count(panels.AUTO) == 4
    args = properties.cli_args(scene, "/photos/cat.jpg", "/tmp/out.ply")
    assert not {"--fov", "--thickness", "--target-faces", "--texture-size"} & set(args)
    scene.use_target_faces, scene.target_faces = True, 5000
    scene.use_fov, scene.fov = True, 35.0
    record = draw(panels.IMG2MESH_PT_advanced)
    assert "target_faces" in names(record) and "fov" in names(record)
    args = properties.cli_args(scene, "/photos/cat.jpg", "/tmp/out.ply")
    assert args[args.index("--target-faces") + 1] == "5000"
    assert float(args[args.index("--fov") + 1]) == 35.0
    scene.source, scene.prompt = "TEXT", "a mug"
    assert "Auto" in [t for k, t, _ in draw(panels.IMG2MESH_PT_advanced) if k == "label"]
    assert not any(a.startswith("--steps") for a in properties.prompt_args(scene))
    scene.use_steps, scene.steps = True, 3
    assert "--steps=3" in properties.prompt_args(scene)


def test_buttons_only_when_they_can_work(scene, tmp_path):
    """Generate and the batch's buttons greyed out, the reason under them: no photo,
    Depth Custom with no model; Download greyed out when downloads are off."""
    def lines():
        return [t for k, t, _ in draw(panels.IMG2MESH_PT_main) if k == "label"]

    scene.source, scene.filepath = "FILE", ""
    assert panel_info.generate_blocker(scene).forms[0] == "No photo: choose one above"
    assert "No photo: choose one above" in lines()
    scene.filepath = helpers.photo()
    assert panel_info.generate_blocker(scene) is None
    scene.depth_model, scene.depth_model_custom = "CUSTOM", ""
    why = panel_info.generate_blocker(scene)
    assert why is not None and "no model set" in why.forms[0]
    assert panel_info.generate_blocker(scene, photo=False) is not None  # the batch too
    batch = [t for k, t, _ in draw(panels.IMG2MESH_PT_batch) if k == "label"]
    assert any("no model set" in t for t in batch)
    scene.depth_model_custom = str(tmp_path / "my-glpn")  # a folder that is not there
    assert "no model folder" in panel_info.generate_blocker(scene).full
    scene.depth_model = "auto"  # offline: inflation, which works
    assert panel_info.generate_blocker(scene) is None
    scene.source, scene.prompt = "TEXT", " "
    assert panel_info.generate_blocker(scene).forms[0] == "No prompt: type one above"
    # downloads off: why, in the panel's words
    assert panel_info.downloads_off(scene) is not None
    scene.offline = True
    assert "Offline is on" in panel_info.downloads_off(scene).full or \
        not bpy.app.online_access


def test_worker_refusals_in_the_panels_words(addon, tmp_path):
    """The real worker refuses values the panel cannot send (a script's arguments): the
    error names the panel's field, never a command-line flag; an unreadable photo is
    not "an image file Pillow can read"."""
    from blender_img2mesh.blender.client import panel_words
    from blender_img2mesh.pipeline import catalog

    out = str(tmp_path / "out.ply")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    cases = [([helpers.photo(), "-o", out, "--target-faces", "2"], "Target Faces must be "
              "a whole number from 4 to 100000000"),
             ([helpers.photo(), "-o", out, "--texture-size", "1"], "Texture Size must be "
              "a whole number from 16 to 16384"),
             ([str(broken), "-o", out, "--depth-model", "inflate", "--keep-background"],
              "is not an image file that can be read")]
    try:
        for args, said in cases:
            runner = jobs.Runner(helpers.PIPELINE_PYTHON, args, None).start()
            runner.wait()
            assert said in runner.error and "--" not in runner.error, runner.error
            assert "Pillow" not in runner.error and "bad arguments" not in runner.error
    finally:
        worker_client.release()
    # every labelled range: its flag becomes its label
    for rng in catalog.RANGES.values():
        text = panel_words.in_panel_words(f"bad arguments: {rng.option} must be from 1")
        assert text == f"{rng.label or rng.option[2:].replace('-', ' ')} must be from 1"


def test_batch_progress_says_k_of_n_photo_stage_percent(addon, tmp_path):
    runner = batch_jobs.BatchRunner("python", [str(tmp_path / "chelsea.png"),
                                               str(tmp_path / "coffee.png")], None, None)
    inner = jobs.Runner("python", [], None)
    inner.stage, inner.fraction = "depth", 0.45
    runner.index, runner.inner = 1, inner
    assert runner.line == "2 / 2 \u2014 coffee.png \u2014 Estimating depth \u2014 45%"
    wide = stage_lines(runner, width=600)
    assert runner.line in wide  # one line where it fits
    narrow = stage_lines(runner)  # the default sidebar: two lines, in that order
    assert "2 / 2 \u2014 coffee.png" in narrow and "Estimating depth \u2014 45%" in narrow
    assert all(ui_text.text_px(t) <= 229 - 64 - ui_text.LINE_INSET for t in narrow
               if "|" not in t)
