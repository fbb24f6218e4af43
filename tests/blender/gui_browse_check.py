"""Runs inside a real, windowed Blender (under Xvfb): the Batch panel's *Choose Files...*
through Blender's own file browser:

    xvfb-run -a blender --factory-startup SCENE.blend -P tests/blender/gui_browse_check.py -- \
        FOLDER OUT.json

1. img2mesh.batch (INVOKE_DEFAULT, no folder, the scene's settings: the panel's button)
   opens the file browser;
2. in the browser: go to FOLDER, show image files whose name has an "e", select them all,
   press the browser's execute button (file.execute) -- the operator gets ``directory``
   and ``files`` as from a user's multi-selection and runs the batch modally;
3. when the batch is over, writes the batch collection's objects to OUT.json and quits.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gui_window  # noqa: E402  (the repository first on sys.path, the add-on registered)
import bpy  # noqa: E402

from blender_img2mesh.blender.client import jobs
from blender_img2mesh.blender.ui import properties  # noqa: E402

FOLDER, OUT = gui_window.script_args()[:2]
report = {"errors": [], "ticks_while_running": 0}
state = {"phase": "start", "t0": time.monotonic()}


def browser():
    """(window, area, region) of the open file browser, or None."""
    for win in bpy.context.window_manager.windows:
        for area in win.screen.areas:
            if area.type == "FILE_BROWSER":
                region = next(r for r in area.regions if r.type == "WINDOW")
                return win, area, region
    return None


def step():
    phase = state["phase"]
    if phase == "start":
        s = bpy.context.scene.img2mesh
        s.depth_model, s.remove_background, s.max_size = "inflate", False, 256
        settings = properties.operator_settings(s)  # what the panel's button passes
        with bpy.context.temp_override(**gui_window.override()):
            report["invoke"] = sorted(bpy.ops.img2mesh.batch("INVOKE_DEFAULT", **{
                n: settings[n] for n in properties.SETTING_NAMES}))
        state["phase"] = "browsing"
    elif phase == "browsing":
        found = browser()
        if found is None:
            return 0.1
        win, area, region = found
        params = area.spaces.active.params
        try:
            params.directory = FOLDER.encode()
        except TypeError:
            params.directory = FOLDER
        params.use_filter, params.use_filter_image = True, True
        params.filter_search = "e"
        report["browser_title"] = params.title
        state["phase"], state["browser"] = "select", found
        return 1.0
    elif phase == "select":  # (the browser lists the new folder a moment later)
        win, area, region = state["browser"]
        with bpy.context.temp_override(window=win, area=area, region=region):
            bpy.ops.file.select_all(action="SELECT")
        state["phase"] = "execute"
        return 1.0
    elif phase == "execute":
        win, area, region = state["browser"]
        report["filename"] = area.spaces.active.params.filename
        with bpy.context.temp_override(window=win, area=area, region=region):
            report["execute"] = sorted(bpy.ops.file.execute())
        state["phase"] = "running"
    elif phase == "running":
        runner = jobs.current
        if runner is not None:
            report["ticks_while_running"] += 1
            report["total"] = len(runner.photos)
            report["photos"] = [os.path.basename(p) for p in runner.photos]
            return 0.05
        if "total" not in report and time.monotonic() - state["t0"] < 60:
            return 0.1  # not started yet
        colls = [c for c in bpy.data.collections if c.name.startswith("Img2Mesh Batch")]
        report["collections"] = [c.name for c in colls]
        report["objects"] = sorted((o.name, round(o.location.x, 4), len(o.data.polygons),
                                    o.get("img2mesh_source"))
                                   for c in colls for o in c.objects)
        return None  # run_phases writes the report and quits
    return 0.1


gui_window.run_phases(step, report, OUT, timeout=300.0)
