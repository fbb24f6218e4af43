"""Screenshots of the add-on's preferences in a real windowed Blender (under Xvfb), the
window at its default size:

    xvfb-run -a -s "-screen 0 1600x1800x24" blender --factory-startup SCENE.blend \
        -P tests/blender/gui_prefs_shot.py -- MODELS_DIR SHOT.png

The add-on is listed as an installed one (a scripts folder of our own whose ``addons``
holds a link to the package) and enabled; **Edit > Preferences** opens at its default
size on Add-ons, filtered to Img2Mesh, the add-on expanded, the models folder set to
MODELS_DIR (empty: every model row offers Download).  SHOT.png: the window as it opens;
SHOT_models.png: scrolled down to the models box.  Printed: PREFS_WINDOW width height,
PREFS_REGION width (the main region's, px) and the UI scale, SCRIPTS the scripts folder
(removed when Blender quits).
"""

import atexit
import os
import shutil
import sys
import tempfile

import bpy  # noqa: F401  (first: it puts Blender's own modules on sys.path)

import addon_utils  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
SCRIPTS = tempfile.mkdtemp(prefix="addon-scripts-")
atexit.register(shutil.rmtree, SCRIPTS, True)  # the link only: never what it points to
os.makedirs(os.path.join(SCRIPTS, "addons"))
os.symlink(os.path.join(os.path.dirname(os.path.dirname(HERE)), "blender_img2mesh"),
           os.path.join(SCRIPTS, "addons", "blender_img2mesh"))
bpy.context.preferences.filepaths.script_directory = SCRIPTS
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the package from this tree
assert addon_utils.enable("blender_img2mesh", default_set=True, handle_error=None)

import gui_window  # noqa: E402  (the add-on is registered already: it stays)

MODELS, SHOT = gui_window.script_args()[:2]
print("SCRIPTS", SCRIPTS, flush=True)
state = {"phase": "start"}


def prefs_window():
    return bpy.context.window_manager.windows[-1]


def main_region(win):
    """The Preferences window's area and its main region (where the add-on is drawn)."""
    area = next(a for a in win.screen.areas if a.type == "PREFERENCES")
    return area, next(r for r in area.regions if r.type == "WINDOW")


def step():
    phase = state["phase"]
    if phase == "start":
        prefs = bpy.context.preferences
        prefs.addons["blender_img2mesh"].preferences.models_dir = MODELS
        prefs.active_section = "ADDONS"
        bpy.context.window_manager.addon_search = "Img2Mesh"
        for mod in addon_utils.modules(refresh=False):
            if mod.__name__ == "blender_img2mesh":
                addon_utils.module_bl_info(mod)["show_expanded"] = True
        with bpy.context.temp_override(**gui_window.override()):
            bpy.ops.screen.userpref_show("INVOKE_DEFAULT")
        state["phase"] = "shot"
        return 2.0
    win = prefs_window()
    area, region = main_region(win)
    with bpy.context.temp_override(window=win, screen=win.screen, area=area, region=region):
        if phase == "shot":
            print("PREFS_WINDOW", win.width, win.height, flush=True)
            print("PREFS_REGION", region.width, bpy.context.preferences.view.ui_scale,
                  flush=True)
            bpy.ops.wm.redraw_timer(type="DRAW_WIN_SWAP", iterations=2)
            bpy.ops.screen.screenshot(filepath=SHOT)
            state["phase"] = "scroll"
            return 0.5
        if phase == "scroll":  # as far as the models box (the end)
            for _ in range(40):  # one step at a time: the view stops at its end
                bpy.ops.view2d.scroll_down()
            state["phase"] = "models"
            return 1.0
        bpy.ops.wm.redraw_timer(type="DRAW_WIN_SWAP", iterations=2)
        bpy.ops.screen.screenshot(filepath=SHOT.replace(".png", "_models.png"))
    return None


gui_window.run_phases(step, timeout=120)
