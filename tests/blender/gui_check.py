"""Runs inside a real, windowed Blender (under Xvfb) to exercise the modal operator:

    xvfb-run -a blender --factory-startup SCENE.blend -P tests/blender/gui_check.py -- \
        PHOTO OUT.json SHOT.png

(opening a .blend keeps the splash screen away.)

1. the panel's Generate (INVOKE_DEFAULT) runs modally: Blender keeps redrawing while the
   worker works; a screenshot of the sidebar shows the progress bar;
2. a second run is cancelled with the panel's Cancel button (img2mesh.cancel);
3. writes what it saw to OUT.json and quits.
"""

import glob
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

import bpy  # noqa: E402

import blender_img2mesh  # noqa: E402

blender_img2mesh.register()
from blender_img2mesh.blender import jobs, worker_client  # noqa: E402

PHOTO, OUT, SHOT = sys.argv[sys.argv.index("--") + 1:][:3]
report = {"ticks_while_running": 0, "errors": []}
state = {"phase": "start", "t0": time.monotonic()}


def temp_dirs():
    return sorted(glob.glob(os.path.join(tempfile.gettempdir(), "img2mesh-*")))


def override():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return dict(window=win, screen=win.screen, area=area, region=region)


def show_sidebar():
    """Open the sidebar on our panel.  Blender 3.x has no API to pick a sidebar tab, so
    for the screenshot only, the panels move to the "Item" tab (shown by default)."""
    from blender_img2mesh.blender import panels

    area = override()["area"]
    area.spaces[0].show_region_ui = True
    for cls in (panels.IMG2MESH_PT_advanced, panels.IMG2MESH_PT_main):
        bpy.utils.unregister_class(cls)
    panels.IMG2MESH_PT_main.bl_category = panels.IMG2MESH_PT_advanced.bl_category = "Item"
    for cls in (panels.IMG2MESH_PT_main, panels.IMG2MESH_PT_advanced):
        bpy.utils.register_class(cls)


def invoke():
    s = bpy.context.scene.img2mesh
    s.filepath, s.depth_model, s.remove_background = PHOTO, "inflate", False
    # Poisson (a closed back) at depth 9: slow enough for the second run to be cancelled
    s.poisson_depth, s.max_size, s.back = 9, 768, "flat"
    from blender_img2mesh.blender import properties
    with bpy.context.temp_override(**override()):
        return bpy.ops.img2mesh.generate("INVOKE_DEFAULT", **properties.operator_settings(s))


def finish():
    report["temp_dirs_left"] = temp_dirs()
    with open(OUT, "w") as f:
        json.dump(report, f)
    worker_client.release()
    bpy.ops.wm.quit_blender()


def step():
    try:
        return _step()
    except Exception as exc:  # record and stop
        report["errors"].append(f"{type(exc).__name__}: {exc}")
        finish()
        return None


def _step():
    phase = state["phase"]
    if time.monotonic() - state["t0"] > 240:
        report["errors"].append(f"timeout in phase {phase}")
        finish()
        return None
    if phase == "start":
        show_sidebar()  # its first draw starts the worker ahead (worker_ahead.py)
        state["phase"] = "ahead"
    elif phase == "ahead":
        warm = worker_client.warm_worker()
        if warm is not None:
            report["ahead_pid"] = warm.pid
            report["ahead_preloading"] = bool(warm.preloads)
            report["first_invoke"] = sorted(invoke())
            report["first_label"] = jobs.current.label if jobs.current else None
            state["phase"] = "run1"
    elif phase == "run1":
        runner = jobs.current
        if runner is not None:
            report["ticks_while_running"] += 1  # Blender's loop runs during the job
            if runner.fraction > 0.3 and "screenshot" not in report:
                with bpy.context.temp_override(**override()):
                    bpy.ops.screen.screenshot(filepath=SHOT)
                report["screenshot"] = SHOT
                report["progress_seen"] = [runner.stage, runner.fraction]
        else:
            obj = bpy.context.view_layer.objects.active
            report["object"] = obj.name if obj else None
            report["vertices"] = len(obj.data.vertices) if obj else 0
            report["warm_pid"] = worker_client.warm_worker().pid
            report["second_invoke"] = sorted(invoke())
            state["phase"] = "run2"
    elif phase == "run2":
        runner = jobs.current
        if runner is not None and runner.stage in ("depth", "points", "surface"):
            report["cancel_pid"] = runner.job.worker.pid
            report["cancel_temp"] = runner.temp_dir
            bpy.ops.img2mesh.cancel()
            state["phase"] = "cancelling"
    elif phase == "cancelling":
        if jobs.current is None:
            pid = report["cancel_pid"]
            report["cancelled_worker_alive"] = os.path.exists(f"/proc/{pid}") and \
                "State:\tZ" not in open(f"/proc/{pid}/status").read()
            report["cancel_temp_exists"] = os.path.exists(report["cancel_temp"])
            report["objects"] = len([o for o in bpy.data.objects if o.type == "MESH"])
            report["heavy"] = [m for m in ("torch", "open3d", "transformers", "rembg")
                               if m in sys.modules]
            finish()
            return None
    return 0.05


bpy.app.timers.register(step, first_interval=1.0)
