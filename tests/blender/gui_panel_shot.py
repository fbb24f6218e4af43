"""Screenshots of the panel in a real windowed Blender (under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1800x24" blender --factory-startup SCENE.blend \
        -P tests/blender/gui_panel_shot.py -- PHOTO MODELS_DIR SHOT.png [advanced]

Depth *Auto*, offline, with an empty models folder: the panel says before the run that
silhouette inflation will be used, and after it shows the result line and the warning.
Shots of the sidebar at its default width: SHOT_before.png (the settings),
SHOT_progress.png (a run), SHOT.png (after it); SHOT_picker.png: the window with the photo's
image browser (its settings are printed: PICKER folder display filter image folder blend).
With ``advanced``: one shot, SHOT.png, with Advanced and Batch open, Depth: Custom (a
model folder MODELS_DIR/my-glpn, made here), Faces turned on (20000), the other automatic
fields Auto, the photo's folder as the batch's; no run.
Blender 3.x cannot pick a sidebar tab: the panels move to the Item tab, under its
Transform panel (a screen 1800 px high shows both).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gui_window  # noqa: E402  (registers the add-on)

import bpy  # noqa: E402

from blender_img2mesh.blender.client import jobs
from blender_img2mesh.blender.ui import properties  # noqa: E402
from gui_window import override, screenshot_sidebar  # noqa: E402

PHOTO, MODELS, SHOT, *MORE = gui_window.script_args()
ADVANCED = MORE == ["advanced"]
state = {"phase": "start"}


def step():
    phase = state["phase"]
    if phase == "start":
        gui_window.show_sidebar(open_advanced=ADVANCED, open_batch=ADVANCED)
        s = bpy.context.scene.img2mesh
        s.filepath, s.remove_background, s.max_size = PHOTO, False, 384
        s.back = "flat"  # a closed back: Resolution and Surface Detail both shown
        s.models_dir, s.offline = MODELS, True
        if ADVANCED:
            custom = os.path.join(MODELS, "my-glpn")
            os.makedirs(custom, exist_ok=True)
            with open(os.path.join(custom, "config.json"), "w") as f:
                f.write("{}")
            s.depth_model, s.depth_model_custom = "CUSTOM", custom
            s.use_target_faces, s.target_faces = True, 20000
            s.batch_folder = os.path.dirname(PHOTO)
        state["phase"] = "advanced" if ADVANCED else "before"
        return 1.0
    if phase == "advanced":
        screenshot_sidebar(SHOT)
        return None
    if phase == "before":
        screenshot_sidebar(SHOT.replace(".png", "_before.png"))
        with bpy.context.temp_override(**override()):
            s = bpy.context.scene.img2mesh
            bpy.ops.img2mesh.generate("INVOKE_DEFAULT", **properties.operator_settings(s))
        state["phase"] = "run"
        return 0.1
    if phase == "run":
        runner = jobs.current
        if runner is None:
            state["phase"] = "after"
            return 1.0
        if runner.fraction > 0.05:  # the shot a moment later: the panels have moved
            state.setdefault("progress", time.monotonic())
            if time.monotonic() - state["progress"] > 0.4 and not state.get("shot"):
                state["shot"] = True
                print("PROGRESS_SHOT", runner.fraction, runner.message, flush=True)
                screenshot_sidebar(SHOT.replace(".png", "_progress.png"))
        return 0.05
    if phase == "after":
        screenshot_sidebar(SHOT)
        with bpy.context.temp_override(**override()):
            bpy.ops.img2mesh.pick_image("INVOKE_DEFAULT")
        print("SIDEBAR_WIDTH", gui_window.sidebar().width,
              bpy.context.preferences.view.ui_scale)
        state["phase"] = "listing"
        return 2.0
    win = bpy.context.window_manager.windows[-1]  # the file browser's window
    area = win.screen.areas[0]
    with bpy.context.temp_override(window=win, screen=win.screen, area=area):
        if phase == "listing":  # read the folder (no mouse moves under Xvfb)
            bpy.ops.file.refresh()
            bpy.ops.wm.redraw_timer(type="DRAW_WIN_SWAP", iterations=3)
            state["phase"] = "picker"
            return 5.0
        params = area.spaces[0].params
        print("PICKER", params.directory.decode() if isinstance(params.directory, bytes)
              else params.directory, params.display_type, params.use_filter,
              params.use_filter_image, params.use_filter_folder, params.use_filter_blender,
              flush=True)
        bpy.ops.wm.redraw_timer(type="DRAW_WIN_SWAP", iterations=3)
        bpy.ops.screen.screenshot(filepath=SHOT.replace(".png", "_picker.png"))
    return None


gui_window.run_phases(step, timeout=240)
