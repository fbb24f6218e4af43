"""The panel tells the truth, one line per message (the whole text in its tooltip):
what depth will really come from before Generate, and the last result (name, vertices,
time, depth used) with its warnings after it -- the depth fallback said once, on the
depth line."""

import types

import bpy
import pytest

import helpers
from blender_img2mesh.blender.client import depth_plan
from blender_img2mesh.blender.ui import messages, panel_info, panels, properties


class Layout:
    """A stand-in for a UILayout that records what a panel draws."""

    def __init__(self, lines=None):
        self.lines = [] if lines is None else lines

    def __getattr__(self, name):  # use_property_split, scale_y, active, ...
        return None

    def __setattr__(self, name, value):
        if name == "lines":
            object.__setattr__(self, name, value)

    def row(self, **kw):
        return Layout(self.lines)

    column = box = split = row

    def label(self, text="", icon="NONE"):
        self.lines.append(text)

    def prop(self, *a, **kw):
        pass

    template_ID = progress = prop

    def operator(self, idname, text="", icon="NONE", emboss=True):
        if idname == "img2mesh.message":  # a one-line message (its tooltip: all of it)
            self.lines.append(text)
        else:
            self.lines.append(f"[{text or idname}]")
        return types.SimpleNamespace()


def _drawn(context):
    panel = types.SimpleNamespace(layout=Layout())
    panels.IMG2MESH_PT_main.draw(panel, context)
    return panel.layout.lines


def _tooltip(key):
    return messages.IMG2MESH_OT_message.description(
        bpy.context, types.SimpleNamespace(key=key))


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "IMG2MESH_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


def test_depth_line_for_each_state(no_models, tmp_path):
    d = str(no_models)
    p = depth_plan.plan("auto", models_dir=d, offline=True)
    assert p.text == ("Depth: Auto -> silhouette inflation (offline: Depth Anything V2 "
                      "Small not downloaded)")
    assert not p.ok and p.download == "depth-anything-v2-small"
    p = depth_plan.plan("auto", models_dir=d, offline=False)
    assert p.text == "Depth: Auto -> Depth Anything V2 Small - downloads on first run (~100 MB)"
    assert p.ok
    p = depth_plan.plan("glpn-nyu", models_dir=d, offline=True)
    assert p.text == "Depth: GLPN NYU - not downloaded (~250 MB)" and not p.ok
    assert p.download == "glpn-nyu"
    assert depth_plan.plan("inflate", models_dir=d).text == \
        "Depth: silhouette inflation (no network)"
    assert depth_plan.plan("auto", depth_map="/x/photo_depth.png", models_dir=d).text == \
        "Depth: from the file photo_depth.png"
    assert not depth_plan.plan("CUSTOM", custom=" ", models_dir=d).ok
    p = depth_plan.plan("CUSTOM", custom=str(tmp_path / "nope"), models_dir=d)
    assert p.text == f"Depth: no model folder at {tmp_path / 'nope'}" and not p.ok
    # downloaded into the models folder (as the worker names it): found, offline too
    folder = no_models / "depth-anything--Depth-Anything-V2-Small-hf"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    p = depth_plan.plan("auto", models_dir=d, offline=True)
    assert (p.text, p.ok, p.download) == ("Depth: Auto -> Depth Anything V2 Small", True, None)
    assert depth_plan.plan("CUSTOM", custom=str(folder), models_dir=d).text == \
        "Depth: folder depth-anything--Depth-Anything-V2-Small-hf"
    # in the Hugging Face cache
    snap = tmp_path / "hf" / "models--vinvino02--glpn-nyu" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    assert depth_plan.plan("glpn-nyu", models_dir=d, offline=True).text == "Depth: GLPN NYU"
    # its ready ONNX repository's folder, as the worker downloads it: found too
    assert not depth_plan.plan("dpt-hybrid", models_dir=d, offline=True).ok
    onnx_folder = no_models / "Xenova--dpt-hybrid-midas"
    onnx_folder.mkdir()
    (onnx_folder / "config.json").write_text("{}")
    p = depth_plan.plan("dpt-hybrid", models_dir=d, offline=True)
    assert (p.text, p.ok) == ("Depth: dpt-hybrid", True)
    assert panel_info.depth_name("Xenova/dpt-hybrid-midas") == "dpt-hybrid"


def test_every_depth_line_fits_the_default_sidebar(no_models, tmp_path):
    """Each state's depth line has a form that fits one line of the default sidebar (229
    px, gui_panel_shot.py prints it): it is never cut with an ellipsis there."""
    from blender_img2mesh.blender.ui import text as ui_text

    d, not_model = str(no_models), tmp_path / "not-a-model"
    not_model.mkdir()
    room = 229 - 64 - ui_text.LINE_INSET  # line_width at the default width, scale 1
    plans = [depth_plan.plan(model, custom=custom, models_dir=d, offline=offline)
             for model, custom in (("auto", ""), ("glpn-nyu", ""), ("inflate", ""),
                                   ("CUSTOM", ""), ("CUSTOM", str(not_model)))
             for offline in (True, False)]
    for p in plans:
        line = ui_text.fit(p.forms, room)
        assert not line.endswith(ui_text.ELLIPSIS) and line.startswith("Depth"), p
    # Generate's reason under it (the forms after the first): fits too
    for p in plans:
        if p.fails:
            assert not ui_text.fit(p.forms[1:], room).endswith(ui_text.ELLIPSIS), p


def test_panel_says_what_runs_and_what_ran(addon, no_models):
    """Offline without the depth model: the panel says inflation will be used before
    Generate, and after it shows the result line and the fallback warning itself."""
    panel_info.last_result = None
    s = addon.scene.img2mesh
    s.models_dir, s.offline = str(no_models), True
    s.remove_background, s.max_size = False, 64
    lines = _drawn(addon)
    plan_text = ("Depth: Auto -> silhouette inflation (offline: Depth Anything V2 Small "
                 "not downloaded)")
    assert "Depth: inflation (offline)" in lines and _tooltip("depth") == plan_text
    assert "[Download]" in lines  # greyed out, the reason under it (bpy as a module
    # starts with Online Access off; the panel's Offline is on too)
    why = "Offline is on" if bpy.app.online_access else "Online Access is off"
    assert f"Downloads off: {why}" in lines
    s.source, s.filepath = "FILE", helpers.photo("chelsea.png")
    settings = properties.operator_settings(s)
    assert bpy.ops.img2mesh.generate(**settings) == {"FINISHED"}
    obj = addon.view_layer.objects.active
    info = panel_info.last_result
    assert info["name"] == obj.name and info["vertices"] == len(obj.data.vertices) > 100
    assert info["depth"] == "silhouette inflation"
    lines = _drawn(addon)
    box = lines[lines.index("[Generate Mesh]") + 1:]
    assert box[0].startswith(f"{obj.name}: {len(obj.data.vertices):,} vertices")
    assert "silhouette inflation" in _tooltip("result0")
    # the fallback warning: in the Info log (the run's warnings), said once in the
    # panel -- on the depth line, not again in the box
    assert any("not available" in w for w in info["warnings"])
    assert len(box) == 1 and not any("not available" in line for line in lines)
    assert sum("inflation" in line for line in lines) == 1


def test_panel_shows_the_whole_error(addon, fake_worker, tmp_path):
    panel_info.last_result = None
    missing = str(tmp_path / "missing-photo.png")
    addon.scene.img2mesh.filepath = missing
    with pytest.raises(RuntimeError):
        bpy.ops.img2mesh.generate(filepath=missing)
    lines = _drawn(addon)
    box = lines[lines.index("[Generate Mesh]") + 1:]
    # one line, the whole error (as the operator knows it) in its tooltip
    assert len(box) == 1 and "missing-photo.png" in _tooltip("result0")


def test_fake_worker_warning_in_panel(addon, fake_worker):
    panel_info.last_result = None
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo()) == {"FINISHED"}
    text = " ".join(_drawn(addon))
    assert "coffee: 4 vertices" in text and "fake warning" in text
