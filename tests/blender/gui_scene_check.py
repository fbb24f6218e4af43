"""Runs inside a real, windowed Blender (under Xvfb): the issue's scene, as a first-time
user would drive the panel:

    xvfb-run -a -s "-screen 0 1600x1800x24" blender --factory-startup SCENE.blend \
        -P tests/blender/gui_scene_check.py -- PHOTO FOLDER_A FOLDER_B FOLDER_C MODELS \
        OUT.json SHOTS_DIR

The default scene (its cube), offline with an empty models folder:
1. Generate one photo (Depth Auto falls back to silhouette inflation): the view frames
   the result; shot ``fallback.png``;
2. a batch of FOLDER_A (slow settings): shot ``batch_during.png`` at its second photo, ``batch_after.png``
   when it is over;
3. a batch of FOLDER_B cancelled during its second photo: shot ``cancelled.png``;
4. a batch of FOLDER_C.
After each action the result box's lines are kept; at the end the pairs of meshes whose
bounding boxes overlap.  Shots are of the sidebar at its default width.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gui_window  # noqa: E402  (registers the add-on)

import bpy  # noqa: E402

from blender_img2mesh.blender.client import jobs  # noqa: E402
from blender_img2mesh.blender.scene import placement  # noqa: E402
from blender_img2mesh.blender.ui import panel_info, properties  # noqa: E402
from gui_window import override, screenshot_sidebar  # noqa: E402

PHOTO, FOLDER_A, FOLDER_B, FOLDER_C, MODELS, OUT, SHOTS = gui_window.script_args()[:7]
report = {"errors": [], "boxes": {}, "progress_lines": []}
state = {"phase": "start", "waited": 0}
LIGHT = dict(back="open", max_size=256)
HEAVY = dict(back="flat", max_size=768, poisson_depth=9)  # seconds per photo: a Cancel
#: seconds for the panel to grow to its new layout (Blender animates it) before a shot
SETTLE = 1.0


def settings(**kw):
    s = bpy.context.scene.img2mesh
    for name, value in kw.items():
        setattr(s, name, value)
    return properties.operator_settings(s)


def shot(name):
    screenshot_sidebar(os.path.join(SHOTS, name))


def box():
    return [m.full for m in panel_info.last]


def drawn_lines():
    """What the panel's message lines say now (drawn at the sidebar's width)."""
    width = gui_window.sidebar().width
    from blender_img2mesh.blender.ui import messages, text as ui_text

    return [m.line(width / bpy.context.preferences.view.ui_scale - 64 - ui_text.LINE_INSET)
            for m in messages.drawn.values()]


def batch(folder):
    kw = {n: v for n, v in settings(batch_folder=folder).items()
          if n in properties.SETTING_NAMES}
    with bpy.context.temp_override(**override()):
        return sorted(bpy.ops.img2mesh.batch("INVOKE_DEFAULT", directory=folder, **kw))


def batch_objects(index):
    colls = sorted((c for c in bpy.data.collections if c.name.startswith("Img2Mesh Batch")),
                   key=lambda c: c.name)
    return [o.name for o in colls[index].objects] if len(colls) > index else []


def step():
    phase = state["phase"]
    runner = jobs.current
    if phase == "start":
        gui_window.show_sidebar()
        kw = settings(filepath=PHOTO, source="FILE", depth_model="auto", models_dir=MODELS,
                      offline=True, remove_background=False, **LIGHT)
        with bpy.context.temp_override(**override()):
            report["generate"] = sorted(bpy.ops.img2mesh.generate("INVOKE_DEFAULT", **kw))
        state["phase"] = "generate"
    elif phase == "generate" and runner is None:
        state["phase"] = "framed"
        return 1.5  # the view's smooth move
    elif phase == "framed":
        obj = bpy.context.view_layer.objects.active
        lo, hi = placement.world_bounds(obj)
        r3d = override()["area"].spaces[0].region_3d
        report["generated"] = obj.name
        report["view_to_result"] = (r3d.view_location - (lo + hi) / 2).length
        report["boxes"]["generate"] = box()
        shot("fallback.png")
        report["generate_lines"] = drawn_lines()
        settings(**HEAVY)  # seconds per photo: the shot sees a stage under way
        report["batch_a"] = batch(FOLDER_A)
        state["phase"] = "batch_a"
    elif phase == "batch_a":
        if runner is not None:
            if runner.index >= 1 and runner.inner is not None and \
                    not runner.inner.finished and runner.inner.fraction > 0.05 and \
                    "during" not in state:
                state["during"] = True
                report["progress_lines"].append(runner.line)
                shot("batch_during.png")
        else:
            report["boxes"]["batch_a"] = box()
            report["kept_a"] = batch_objects(0)
            state["phase"] = "batch_a_shot"
            return SETTLE
    elif phase == "batch_a_shot":
        shot("batch_after.png")
        report["batch_a_lines"] = drawn_lines()
        report["batch_b"] = batch(FOLDER_B)
        state["phase"] = "batch_b"
    elif phase == "batch_b":
        if runner is not None and runner.index == 1 and runner.inner is not None and \
                runner.inner.stage in ("depth", "points", "surface"):
            bpy.ops.img2mesh.cancel()
            state["phase"] = "cancelling"
    elif phase == "cancelling" and runner is None:
        report["boxes"]["batch_b"] = box()
        report["kept_b"] = batch_objects(1)
        state["phase"] = "cancelled_shot"
        return SETTLE
    elif phase == "cancelled_shot":
        shot("cancelled.png")
        settings(**LIGHT)
        report["batch_c"] = batch(FOLDER_C)
        state["phase"] = "batch_c"
    elif phase == "batch_c" and runner is None:
        report["boxes"]["batch_c"] = box()
        meshes = [o for o in bpy.context.scene.objects if o.type == "MESH"]
        report["meshes"] = sorted(o.name for o in meshes)
        import itertools

        pairs = []
        for a, b in itertools.combinations(meshes, 2):
            (alo, ahi), (blo, bhi) = placement.world_bounds(a), placement.world_bounds(b)
            if all(alo[i] < bhi[i] and blo[i] < ahi[i] for i in range(3)):
                pairs.append([a.name, b.name])
        report["overlapping_pairs"] = pairs
        return None
    return 0.05


gui_window.run_phases(step, report, OUT, timeout=400)
