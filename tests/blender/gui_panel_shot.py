"""Screenshot of the panel after a run, in a real windowed Blender (under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1800x24" blender --factory-startup SCENE.blend \
        -P tests/blender/gui_panel_shot.py -- PHOTO MODELS_DIR SHOT.png [advanced]

Depth *Auto*, offline, with an empty models folder: the panel says before the run that
silhouette inflation will be used, and after it shows the result line and the warning.
Shots of the sidebar at its default width: SHOT_before.png (the settings),
SHOT_progress.png (a run), SHOT.png (after it); SHOT_picker.png: the window with the photo's
image browser.  Blender 3.x cannot pick a sidebar tab: the panels move to the Item tab,
under its Transform panel (a screen 1800 px high shows both).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

import blender_img2mesh  # noqa: E402

blender_img2mesh.register()
from blender_img2mesh.blender import jobs, panels, properties, worker_client  # noqa: E402

PHOTO, MODELS, SHOT, *MORE = sys.argv[sys.argv.index("--") + 1:]
#: "advanced": one shot, SHOT, with the Advanced panel open (a custom depth model), no run
ADVANCED = MORE == ["advanced"]
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
    if ADVANCED:
        panels.IMG2MESH_PT_advanced.bl_options = set()
    for cls in (panels.IMG2MESH_PT_main, panels.IMG2MESH_PT_advanced,
                panels.IMG2MESH_PT_batch):
        cls.bl_category = "Item"
        bpy.utils.register_class(cls)


def shoot(path):
    """The sidebar as the user sees it, saved to ``path`` (a screenshot of the window,
    cropped to the sidebar region)."""
    with bpy.context.temp_override(**override()):
        bpy.ops.screen.screenshot(filepath=path)
    ui = next(r for r in override()["area"].regions if r.type == "UI")
    image = bpy.data.images.load(path)
    w, h = image.size
    pixels = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(pixels)
    crop = pixels.reshape(h, w, 4)[ui.y:ui.y + ui.height, ui.x:ui.x + ui.width]
    out = bpy.data.images.new("shot", ui.width, ui.height)
    out.pixels.foreach_set(np.ascontiguousarray(crop).ravel())
    out.filepath_raw, out.file_format = path, "PNG"
    out.save()
    bpy.data.images.remove(image)
    bpy.data.images.remove(out)


def step():
    if state["phase"] == "start":
        show_sidebar()
        s = bpy.context.scene.img2mesh
        s.filepath, s.remove_background, s.max_size = PHOTO, False, 384
        s.back = "flat"  # a closed back: Resolution and Surface Detail both shown
        s.models_dir, s.offline = MODELS, True
        if ADVANCED:
            s.depth_model, s.depth_model_custom = "CUSTOM", os.path.join(MODELS, "my-glpn")
            state["phase"] = "advanced"
        else:
            state["phase"] = "before"
        return 1.0
    if state["phase"] == "advanced":
        shoot(SHOT)
        worker_client.release()
        bpy.ops.wm.quit_blender()
        return None
    if state["phase"] == "before":
        shoot(SHOT.replace(".png", "_before.png"))
        with bpy.context.temp_override(**override()):
            s = bpy.context.scene.img2mesh
            bpy.ops.img2mesh.generate("INVOKE_DEFAULT", **properties.operator_settings(s))
        state["phase"] = "run"
        return 0.1
    if state["phase"] == "run":
        runner = jobs.current
        if runner is None:
            state["phase"] = "after"
            return 1.0
        if runner.fraction > 0.05:  # the shot a moment later: the panels have moved
            state.setdefault("progress", time.monotonic())
            if 0 < time.monotonic() - state["progress"] > 0.4 and not state.get("shot"):
                state["shot"] = True
                print("PROGRESS_SHOT", runner.fraction, runner.message, flush=True)
                shoot(SHOT.replace(".png", "_progress.png"))
        return 0.05
    if state["phase"] == "after":
        shoot(SHOT)
        with bpy.context.temp_override(**override()):
            bpy.ops.img2mesh.pick_image("INVOKE_DEFAULT")
        ui = next(r for r in override()["area"].regions if r.type == "UI")
        print("SIDEBAR_WIDTH", ui.width, bpy.context.preferences.view.ui_scale)
        state["phase"] = "listing"
        return 2.0
    win = bpy.context.window_manager.windows[-1]  # the file browser's window
    if state["phase"] == "listing":  # read the folder (no mouse moves under Xvfb)
        area = win.screen.areas[0]
        with bpy.context.temp_override(window=win, screen=win.screen, area=area):
            bpy.ops.file.refresh()
            bpy.ops.wm.redraw_timer(type="DRAW_WIN_SWAP", iterations=3)
        state["phase"] = "picker"
        return 5.0
    params = win.screen.areas[0].spaces[0].params
    print("PICKER", params.directory.decode() if isinstance(params.directory, bytes)
          else params.directory, params.display_type, params.use_filter,
          params.use_filter_image, params.use_filter_folder, params.use_filter_blender,
          flush=True)
    with bpy.context.temp_override(window=win, screen=win.screen, area=win.screen.areas[0]):
        bpy.ops.wm.redraw_timer(type="DRAW_WIN_SWAP", iterations=3)
        bpy.ops.screen.screenshot(filepath=SHOT.replace(".png", "_picker.png"))
    worker_client.release()
    bpy.ops.wm.quit_blender()
    return None


bpy.app.timers.register(step, first_interval=1.0)
