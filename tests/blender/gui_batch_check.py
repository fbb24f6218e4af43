"""Runs inside a real, windowed Blender (under Xvfb) to exercise the modal batch:

    xvfb-run -a blender --factory-startup SCENE.blend -P tests/blender/gui_batch_check.py -- \
        FOLDER OUT.json SHOT.png

1. the Batch panel's button (img2mesh.batch, INVOKE_DEFAULT) on FOLDER runs modally:
   Blender keeps redrawing, the sidebar shows "k / n: stage" (screenshot);
2. after the first photo's object is in the batch collection, Cancel (img2mesh.cancel);
3. writes what it saw to OUT.json and quits.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gui_window  # noqa: E402  (registers the add-on)

import bpy  # noqa: E402

from blender_img2mesh.blender.client import jobs
from blender_img2mesh.blender.ui import properties  # noqa: E402
from gui_window import override  # noqa: E402

FOLDER, OUT, SHOT = gui_window.script_args()[:3]
report = {"ticks_while_running": 0, "errors": [], "labels": []}
state = {"phase": "start"}


def batch_objects():
    colls = [c for c in bpy.data.collections if c.name.startswith("Img2Mesh Batch")]
    return [o.name for o in colls[0].objects] if colls else []


def step():
    phase = state["phase"]
    if phase == "start":
        override()["area"].spaces[0].show_region_ui = True
        s = bpy.context.scene.img2mesh
        s.batch_folder, s.depth_model, s.remove_background = FOLDER, "inflate", False
        s.poisson_depth, s.max_size, s.back = 9, 768, "flat"  # seconds per photo
        kw = {n: getattr(s, n) for n in properties.SETTING_NAMES}
        with bpy.context.temp_override(**override()):
            report["invoke"] = sorted(bpy.ops.img2mesh.batch("INVOKE_DEFAULT",
                                                             directory=FOLDER, **kw))
        state["phase"] = "running"
    elif phase == "running":
        runner = jobs.current
        if runner is None:
            report["errors"].append("the batch ended before it could be cancelled")
            return None
        report["ticks_while_running"] += 1
        label = runner.label.split(":")[0]
        if label not in report["labels"]:
            report["labels"].append(label)
        if batch_objects() and runner.inner is not None and \
                runner.inner.stage in ("depth", "points", "surface", "trim"):
            gui_window.screenshot(SHOT)
            report["cancel_pid"] = runner.inner.job.worker.pid
            report["cancel_temp"] = runner.inner.temp_dir
            report["total"] = len(runner.photos)
            bpy.ops.img2mesh.cancel()
            state["phase"] = "cancelling"
    elif phase == "cancelling":
        if jobs.current is None:
            report["cancelled_worker_alive"] = gui_window.process_alive(report["cancel_pid"])
            report["cancel_temp_exists"] = os.path.exists(report["cancel_temp"])
            report["kept"] = batch_objects()
            report["xs"] = [bpy.data.objects[n].location.x for n in report["kept"]]
            return None
    return 0.05


gui_window.run_phases(step, report, OUT, timeout=300)
