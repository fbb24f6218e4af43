"""Screenshot of the panel after a run, in a real windowed Blender (under Xvfb):

    xvfb-run -a -s "-screen 0 1600x900x24" blender --factory-startup SCENE.blend \
        -P tests/blender/gui_panel_shot.py -- PHOTO MODELS_DIR SHOT.png

Depth *Auto*, offline, with an empty models folder: the panel says before the run that
silhouette inflation will be used, and after it shows the result line and the warning.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import bpy  # noqa: E402

import blender_img2mesh  # noqa: E402

blender_img2mesh.register()
from blender_img2mesh.blender import jobs, panels, properties, worker_client  # noqa: E402

PHOTO, MODELS, SHOT = sys.argv[sys.argv.index("--") + 1:][:3]
state = {"phase": "start", "ticks": 0}


def override():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return dict(window=win, screen=win.screen, area=area, region=region)


def show_sidebar():
    """Blender 3.x cannot pick a sidebar tab: the panels move to "Item" (shown)."""
    override()["area"].spaces[0].show_region_ui = True
    for cls in (panels.IMG2MESH_PT_advanced, panels.IMG2MESH_PT_batch,
                panels.IMG2MESH_PT_main):
        bpy.utils.unregister_class(cls)
    for cls in (panels.IMG2MESH_PT_main, panels.IMG2MESH_PT_advanced,
                panels.IMG2MESH_PT_batch):
        cls.bl_category = "Item"
        bpy.utils.register_class(cls)


def step():
    if state["phase"] == "start":
        show_sidebar()
        s = bpy.context.scene.img2mesh
        s.filepath, s.remove_background, s.max_size = PHOTO, False, 256
        s.models_dir, s.offline = MODELS, True
        state["phase"] = "before"
        return 1.0
    if state["phase"] == "before":
        with bpy.context.temp_override(**override()):
            bpy.ops.screen.screenshot(filepath=SHOT.replace(".png", "_before.png"))
            s = bpy.context.scene.img2mesh
            bpy.ops.img2mesh.generate("INVOKE_DEFAULT", **properties.operator_settings(s))
        state["phase"] = "run"
        return 0.1
    if state["phase"] == "run":
        if jobs.current is None:
            state["phase"] = "after"
            return 1.0
        return 0.1
    with bpy.context.temp_override(**override()):
        bpy.ops.screen.screenshot(filepath=SHOT)
    ui = next(r for r in override()["area"].regions if r.type == "UI")
    print("SIDEBAR_WIDTH", ui.width, bpy.context.preferences.view.ui_scale)
    worker_client.release()
    bpy.ops.wm.quit_blender()
    return None


bpy.app.timers.register(step, first_interval=1.0)
