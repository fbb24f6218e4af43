"""What the add-on preferences say: the interpreter really in use and where it came from,
what is bundled, which models are already there; Check Dependencies in the background."""

import sys
import threading
import types

import addon_utils
import bpy
import pytest

import helpers
from blender_img2mesh.blender.ops import dependency_check
from blender_img2mesh.blender.client import interpreter, vendor
from blender_img2mesh.blender.ui import preferences


class Layout:
    """Records what a draw function puts into a layout (labels, operators, props)."""

    def __init__(self, log=None):
        self.log = [] if log is None else log

    def label(self, text="", icon="NONE"):
        self.log.append(("label", text, icon))

    def operator(self, idname, text="", icon="NONE", emboss=True):
        props = types.SimpleNamespace()
        if idname == "img2mesh.message":  # a one-line message: a label with a tooltip
            self.log.append(("label", text, icon))
        else:
            self.log.append(("operator", idname, props))
        return props

    def prop(self, data, name, **kw):
        self.log.append(("prop", name))

    def progress(self, factor=0.0, type="BAR", text=""):
        self.log.append(("progress", text, type))

    def separator(self):
        pass

    def row(self, **kw):
        return Layout(self.log)

    column = box = split = row

    def labels(self):
        return [entry[1] for entry in self.log if entry[0] in ("label", "progress")]

    def text(self):
        """All the lines, spaces removed: a long line is wrapped to the region's width
        (tests see no region: 300 px), at spaces or inside a long path."""
        return "".join("".join(self.labels()).split())


def squeeze(text):
    return "".join(text.split())


@pytest.fixture
def prefs(monkeypatch, tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    for var in ("U2NET_HOME", "IMG2MESH_MODELS", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "u2net"))
    assert addon_utils.enable("blender_img2mesh", default_set=True, handle_error=None)
    try:
        p = bpy.context.preferences.addons["blender_img2mesh"].preferences
        p.models_dir = str(tmp_path / "models")
        yield p
    finally:
        addon_utils.disable("blender_img2mesh", default_set=True)


def drawn(p):
    """The preferences' draw, recorded."""
    layout = Layout()
    fake = types.SimpleNamespace(layout=layout, **{
        name: getattr(p, name) for name in ("python_path", "models_dir", "dependency_status")})
    preferences.IMG2MESH_AP_preferences.draw(fake, bpy.context)
    return layout


def test_interpreter_from_the_environment(prefs, monkeypatch):
    monkeypatch.setenv("IMG2MESH_PYTHON", helpers.PIPELINE_PYTHON)
    prefs.python_path = ""
    text = drawn(prefs).text()
    assert squeeze(f"In use: {helpers.PIPELINE_PYTHON} (from $IMG2MESH_PYTHON)") in text
    # nothing bundled, and nothing needed: the worker's Python has its own packages
    assert squeeze("No bundled packages: the worker uses the packages of its own Python") in text
    assert squeeze("set a Python interpreter") not in text
    prefs.python_path = sys.executable  # the variable still wins, and the line says so
    assert squeeze("which overrides the preference above") in drawn(prefs).text()
    assert interpreter.resolve(prefs.python_path) == helpers.PIPELINE_PYTHON


def test_interpreter_from_the_preference(prefs, monkeypatch):
    monkeypatch.delenv("IMG2MESH_PYTHON", raising=False)
    prefs.python_path = helpers.PIPELINE_PYTHON
    text = drawn(prefs).text()
    assert squeeze(f"In use: {helpers.PIPELINE_PYTHON} (the preference above)") in text
    prefs.python_path = "/nowhere/python3"
    layout = drawn(prefs)
    assert squeeze("Python interpreter from the add-on preference does not exist: "
                   "/nowhere/python3") in layout.text()
    assert any(e[0] == "label" and e[2] == "ERROR" for e in layout.log)


def test_interpreter_blenders_own(prefs, monkeypatch):
    monkeypatch.delenv("IMG2MESH_PYTHON", raising=False)
    prefs.python_path = ""
    ver = "%d.%d" % sys.version_info[:2]
    text = drawn(prefs).text()
    assert squeeze(f"(Blender's own Python {ver})") in text and "Inuse:" in text
    assert vendor.status("blender").startswith(
        "No bundled packages: Blender's own Python needs torch")
    assert squeeze("Blender's own Python needs torch") in text


def test_models_present_say_so_missing_offer_download(prefs, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "u2netp.onnx").write_bytes(b"x" * 4_600_000)
    depth = models / "depth-anything--Depth-Anything-V2-Small-hf"
    depth.mkdir()
    (depth / "config.json").write_text("{}")
    (depth / "model.safetensors").write_bytes(b"x" * 2_500_000)
    layout = drawn(prefs)
    text = layout.text()
    assert squeeze("U2-Net Small present (4.6 MB)") in text
    assert squeeze("Depth Anything V2 Small present (2.5 MB)") in text
    downloads = [e[2].name for e in layout.log
                 if e[0] == "operator" and e[1] == "img2mesh.download_model"]
    assert downloads == ["glpn-nyu", "sd-turbo"]  # only the missing ones
    (models / "u2netp.onnx").unlink()
    layout = drawn(prefs)
    assert squeeze("U2-Net Small present") not in layout.text()
    assert "u2netp" in [e[2].name for e in layout.log if e[0] == "operator"
                        and e[1] == "img2mesh.download_model"]


def test_model_rows_fit_the_default_preferences_window(prefs, tmp_path):
    """At the preferences window's default size (Blender 3.4: its main region 521 px
    wide, gui_prefs_shot.py prints it) each model row's name fits its column and what
    it is shows a form that fits (no ellipsis), the whole text in the line's tooltip."""
    from blender_img2mesh.blender.ops import downloads
    from blender_img2mesh.blender.ui import messages
    from blender_img2mesh.blender.ui import text as ui_text

    region = types.SimpleNamespace(width=521)
    context = types.SimpleNamespace(region=region, preferences=bpy.context.preferences)
    layout = Layout()
    downloads.draw(layout, prefs, context)
    shown = layout.labels()
    inside = ui_text.region_px(context) - downloads.BOX_MARGINS
    for name, label, what in downloads.MODELS:
        assert label in shown
        assert ui_text.text_px(label) + 20 <= inside * downloads.NAME_COLUMN  # and its icon
        line = messages.drawn[f"model_{name}"].line(downloads.what_width(context))
        assert line in shown and line in what and not line.endswith(ui_text.ELLIPSIS)
        assert messages.drawn[f"model_{name}"].full == what[0]
    # the default depth model says all of it there; a narrower window, less
    assert "default depth model, ~100 MB" in shown
    region.width = 400
    layout = Layout()
    downloads.draw(layout, prefs, context)
    assert "default depth model, ~100 MB" not in layout.labels()
    assert not any(t.endswith(ui_text.ELLIPSIS) for t in layout.labels())


def test_download_tooltip_names_online_access_only_where_it_exists():
    from blender_img2mesh.blender.ops import downloads

    has = hasattr(bpy.app, "online_access")  # Blender 4.2+ (bpy 5.0 here)
    assert has
    assert downloads.IMG2MESH_OT_download_model.bl_description.endswith(
        "(needs Online Access)")


def test_check_dependencies_returns_at_once_and_the_answer_comes_later(prefs, monkeypatch):
    """A window's path (timers run): the operator returns while the check still runs,
    the preferences say "Checking ...", and the timer function brings the answer."""
    monkeypatch.setenv("IMG2MESH_PYTHON", helpers.PIPELINE_PYTHON)
    monkeypatch.setattr(dependency_check, "synchronous", lambda: False)
    release, started = threading.Event(), threading.Event()

    def slow_check(exe):
        started.set()
        release.wait(60)
        return True, "Python 3.x: torch 9"
    monkeypatch.setattr(interpreter, "check_dependencies", slow_check)
    prefs.dependency_status = "not checked"
    try:
        assert bpy.ops.img2mesh.check_dependencies() == {"FINISHED"}
        assert started.wait(30)
        check = dependency_check.current
        assert check is not None and not check.done  # still running: returned at once
        assert bpy.app.timers.is_registered(dependency_check._deliver)
        assert not bpy.ops.img2mesh.check_dependencies.poll()  # one check at a time
        assert f"Checking {helpers.PIPELINE_PYTHON} ..." in drawn(prefs).labels()
        assert dependency_check._deliver() == dependency_check.POLL  # not yet
        assert prefs.dependency_status == "not checked"
        release.set()
        assert helpers.wait_until(lambda: check.done)
        assert dependency_check._deliver() is None  # the timer's last call
        assert prefs.dependency_status == \
            f"OK - {helpers.PIPELINE_PYTHON}: Python 3.x: torch 9"
        assert dependency_check.current is None
        assert squeeze(prefs.dependency_status) in drawn(prefs).text()
    finally:
        release.set()
        dependency_check.stop()


def test_check_dependencies_thread_runs_the_real_check(prefs, monkeypatch):
    """The thread's work is the real import check of the pipeline's Python."""
    monkeypatch.setenv("IMG2MESH_PYTHON", helpers.PIPELINE_PYTHON)
    monkeypatch.setattr(dependency_check, "synchronous", lambda: False)
    try:
        assert bpy.ops.img2mesh.check_dependencies() == {"FINISHED"}
        check = dependency_check.current
        assert helpers.wait_until(lambda: check.done, timeout=300)
        assert dependency_check._deliver() is None
        assert prefs.dependency_status.startswith(f"OK - {helpers.PIPELINE_PYTHON}: Python ")
        assert "onnxruntime" in prefs.dependency_status and "torch" in prefs.dependency_status
    finally:
        dependency_check.stop()


def test_check_dependencies_in_background_mode_answers_at_once(prefs, monkeypatch):
    monkeypatch.setenv("IMG2MESH_PYTHON", helpers.FAKE_PYTHON)  # speaks, imports nothing
    assert bpy.app.background and dependency_check.synchronous()
    with pytest.raises(RuntimeError, match="failed"):  # the operator's ERROR report
        bpy.ops.img2mesh.check_dependencies()
    assert dependency_check.current is None
    assert prefs.dependency_status == \
        f"Missing - {helpers.FAKE_PYTHON}: {helpers.FAKE_PYTHON} failed: no output"
