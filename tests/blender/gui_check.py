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
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gui_window  # noqa: E402  (registers the add-on)

import bpy  # noqa: E402

from blender_img2mesh.blender.client import jobs, worker_client  # noqa: E402
from gui_window import override  # noqa: E402

PHOTO, OUT, SHOT = gui_window.script_args()[:3]
report = {"ticks_while_running": 0, "errors": []}
state = {"phase": "start"}


def temp_dirs():
    return sorted(glob.glob(os.path.join(tempfile.gettempdir(), "img2mesh-*")))


def invoke():
    s = bpy.context.scene.img2mesh
    s.filepath, s.depth_model, s.remove_background = PHOTO, "inflate", False
    # Poisson (a closed back) at depth 9: slow enough for the second run to be cancelled
    s.poisson_depth, s.max_size, s.back = 9, 768, "flat"
    from blender_img2mesh.blender.ui import properties
    with bpy.context.temp_override(**override()):
        return bpy.ops.img2mesh.generate("INVOKE_DEFAULT", **properties.operator_settings(s))


def step():
    phase = state["phase"]
    if phase == "start":
        gui_window.show_sidebar()  # its first draw starts the worker ahead (worker_ahead.py)
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
                gui_window.screenshot(SHOT)
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
            report["cancelled_worker_alive"] = gui_window.process_alive(report["cancel_pid"])
            report["cancel_temp_exists"] = os.path.exists(report["cancel_temp"])
            report["objects"] = len([o for o in bpy.data.objects if o.type == "MESH"])
            report["heavy"] = [m for m in ("torch", "open3d", "transformers", "rembg")
                               if m in sys.modules]
            report["temp_dirs_left"] = temp_dirs()
            return None
    return 0.05


gui_window.run_phases(step, report, OUT, timeout=240)
