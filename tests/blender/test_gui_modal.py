"""The modal operator in a real, windowed Blender (Debian's blender under Xvfb):
Generate runs without blocking Blender, the panel shows progress, Cancel kills the worker.
Needs: apt-get install -y blender xvfb."""

import json
import os
import shutil
import subprocess

import helpers

CHECK = os.path.join(helpers.HERE, "gui_check.py")


def test_modal_generate_and_cancel_in_windowed_blender(tmp_path):
    blender, xvfb = shutil.which("blender"), shutil.which("xvfb-run")
    assert blender and xvfb, "needs the blender binary and xvfb-run (apt-get install blender xvfb)"
    env = dict(os.environ, IMG2MESH_PYTHON=helpers.PIPELINE_PYTHON)
    start = tmp_path / "start.blend"  # opening a file keeps the splash screen away
    subprocess.run([blender, "-b", "--factory-startup", "--python-expr",
                    f"import bpy; bpy.ops.wm.save_as_mainfile(filepath={str(start)!r})"],
                   check=True, capture_output=True, timeout=120, env=env)
    out, shot = tmp_path / "gui.json", tmp_path / "panel.png"
    proc = subprocess.run(
        [xvfb, "-a", "-s", "-screen 0 1600x900x24", blender, "--factory-startup", str(start),
         "-P", CHECK, "--", helpers.photo("astronaut.png"), str(out), str(shot)],
        capture_output=True, text=True, timeout=400, env=env, stdin=subprocess.DEVNULL)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["errors"] == []
    assert r["first_invoke"] == ["RUNNING_MODAL"] and r["second_invoke"] == ["RUNNING_MODAL"]
    assert r["ticks_while_running"] >= 3  # Blender's event loop kept running
    assert r["object"] == "astronaut" and r["vertices"] > 1000
    assert r["cancel_pid"] == r["warm_pid"]  # the second run reused the warm worker
    assert r["cancelled_worker_alive"] is False and r["cancel_temp_exists"] is False
    assert r["objects"] == 2  # the default cube and the first result: no half result
    assert r["heavy"] == []
    assert shot.stat().st_size > 10000
