"""Runs inside a real, windowed Blender (under Xvfb), with the add-on enabled:

    xvfb-run -a blender --factory-startup SCENE.blend -P tests/blender/gui_replace_check.py \
        -- PHOTO OUT.json FAKE_PYTHON

1. *Check Dependencies* (the pipeline's Python, $IMG2MESH_PYTHON) returns at once; the
   timer brings the answer later, Blender's loop running meanwhile;
2. Generate (modal, the fake worker) then Undo: the result is gone; no redo panel
   (nothing to adjust and redo after a Generate; after adding a cube there is);
3. Generate, then twice with *Replace Last Result*: one result, one camera of its own, the
   scene's camera kept; Undo goes back one Generate at a time (the material's color
   source tells which);
4. writes what it saw to OUT.json and quits.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

import addon_utils  # noqa: E402
import bpy  # noqa: E402

# enabled as a user would (its preferences exist), before gui_window would register it
assert addon_utils.enable("blender_img2mesh", default_set=True, handle_error=None)
import gui_window  # noqa: E402
from gui_window import override  # noqa: E402

PHOTO, OUT, FAKE = gui_window.script_args()[:3]
report = {"errors": [], "check_ticks": 0}
state = {"phase": "start", "queue": []}


def results():
    return sorted(o.name for o in bpy.context.scene.objects
                  if o.type == "MESH" and "img2mesh_depth_model" in o)


def cameras():
    return sorted(o.name for o in bpy.context.scene.objects if o.type == "CAMERA")


def color_of(name):
    from blender_img2mesh.blender.scene import material

    return material.color_source(bpy.data.objects[name].active_material)


def generate(color, replace):
    from blender_img2mesh.blender.ui import properties

    s = bpy.context.scene.img2mesh
    s.filepath, s.color, s.add_camera, s.replace_last = PHOTO, color, True, replace
    with bpy.context.temp_override(**override()):
        return sorted(bpy.ops.img2mesh.generate("INVOKE_DEFAULT",
                                                **properties.operator_settings(s)))


def redo_possible():
    """Whether the last operation can be adjusted and redone (F9, the redo panel):
    ``ed.undo_redo`` polls for the last operator registered with an undo step."""
    with bpy.context.temp_override(**override()):
        return bpy.ops.ed.undo_redo.poll()


def undo():
    with bpy.context.temp_override(**override()):
        return sorted(bpy.ops.ed.undo())


def step():
    from blender_img2mesh.blender.ops import dependency_check
    from blender_img2mesh.blender.client import jobs

    phase = state["phase"]
    if phase == "start":
        prefs = bpy.context.preferences.addons["blender_img2mesh"].preferences
        prefs.dependency_status = "not checked"
        with bpy.context.temp_override(**override()):
            report["check"] = sorted(bpy.ops.img2mesh.check_dependencies())
        report["check_running_after_return"] = dependency_check.current is not None
        report["status_after_return"] = prefs.dependency_status
        state["phase"] = "checking"
    elif phase == "checking":
        if dependency_check.current is not None:
            report["check_ticks"] += 1  # Blender's loop runs during the check
            return 0.05
        prefs = bpy.context.preferences.addons["blender_img2mesh"].preferences
        report["status_later"] = prefs.dependency_status
        os.environ["IMG2MESH_PYTHON"] = FAKE  # generations: the fake worker
        os.environ["FAKE_WORKER_MODE"] = "texture"
        report["user_camera"] = bpy.context.scene.camera.name
        report["gen1"] = generate("VERTEX", False)
        state["phase"] = "gen1"
    elif phase == "gen1":
        if jobs.running():
            return 0.05
        report["after_gen1"] = results()
        wm = bpy.context.window_manager
        report["registered_ops"] = [op.bl_idname for op in wm.operators]
        report["redo_after_gen1"] = redo_possible()
        report["undo1"] = undo()
        report["after_undo1"] = results()
        state["queue"] = [("VERTEX", False), ("TEXTURE", True), ("VERTEX", True)]
        state["colors"], state["phase"] = [], "gens"
        report["gens"] = [generate(*state["queue"].pop(0))]
    elif phase == "gens":
        if jobs.running():
            return 0.05
        names = results()
        state["colors"].append([names, color_of(names[0]) if names else None])
        if state["queue"]:
            report["gens"].append(generate(*state["queue"].pop(0)))
            return 0.05
        report["after_gens"] = state["colors"]
        report["cameras"] = cameras()
        report["scene_camera"] = bpy.context.scene.camera.name
        report["redo_after_gens"] = redo_possible()
        report["undo2"] = undo()
        report["after_undo2"] = [results(), color_of(results()[0])]
        report["undo3"] = undo()
        report["after_undo3"] = [results(), color_of(results()[0]), cameras()]
        with bpy.context.temp_override(**override()):  # a registered operator, to compare
            bpy.ops.mesh.primitive_cube_add("EXEC_DEFAULT", True)  # True: as from the UI
        report["redo_after_cube"] = redo_possible()
        return None  # run_phases writes the report and quits
    return 0.05


gui_window.run_phases(step, report, OUT, timeout=300.0)
