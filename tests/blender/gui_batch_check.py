"""Runs inside a real, windowed Blender (under Xvfb) to exercise the modal batch:

    xvfb-run -a blender --factory-startup SCENE.blend -P tests/blender/gui_batch_check.py -- \
        FOLDER OUT.json SHOT.png

1. the Batch panel's button (img2mesh.batch, INVOKE_DEFAULT) on FOLDER runs modally:
   Blender keeps redrawing, the sidebar shows "k / n: stage" (screenshot);
2. after the first photo's object is in the batch collection, Cancel (img2mesh.cancel);
3. writes what it saw to OUT.json and quits.
"""

import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

import bpy  # noqa: E402

import blender_img2mesh  # noqa: E402

blender_img2mesh.register()
from blender_img2mesh.blender import jobs, properties, worker_client  # noqa: E402

FOLDER, OUT, SHOT = sys.argv[sys.argv.index("--") + 1:][:3]
report = {"ticks_while_running": 0, "errors": [], "labels": []}
state = {"phase": "start", "t0": time.monotonic()}


def override():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return dict(window=win, screen=win.screen, area=area, region=region)


def batch_objects():
    colls = [c for c in bpy.data.collections if c.name.startswith("Img2Mesh Batch")]
    return [o.name for o in colls[0].objects] if colls else []


def finish():
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
    if time.monotonic() - state["t0"] > 300:
        report["errors"].append(f"timeout in phase {phase}")
        finish()
        return None
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
            finish()
            return None
        report["ticks_while_running"] += 1
        label = runner.label.split(":")[0]
        if label not in report["labels"]:
            report["labels"].append(label)
        if batch_objects() and runner.inner is not None and \
                runner.inner.stage in ("depth", "points", "surface", "trim"):
            with bpy.context.temp_override(**override()):
                bpy.ops.screen.screenshot(filepath=SHOT)
            report["cancel_pid"] = runner.inner.job.worker.pid
            report["cancel_temp"] = runner.inner.temp_dir
            report["total"] = len(runner.photos)
            bpy.ops.img2mesh.cancel()
            state["phase"] = "cancelling"
    elif phase == "cancelling":
        if jobs.current is None:
            pid = report["cancel_pid"]
            report["cancelled_worker_alive"] = os.path.exists(f"/proc/{pid}") and \
                "State:\tZ" not in open(f"/proc/{pid}/status").read()
            report["cancel_temp_exists"] = os.path.exists(report["cancel_temp"])
            report["kept"] = batch_objects()
            report["xs"] = [bpy.data.objects[n].location.x for n in report["kept"]]
            finish()
            return None
    return 0.05


bpy.app.timers.register(step, first_interval=1.0)
