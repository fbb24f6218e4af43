"""Blender killed (crash, ``kill -9``) in the middle of a job: the worker ends too
(pipeline/command/parent_watch.py), and the job's temp folder that the dead Blender left is
removed when the add-on next starts."""

import os
import signal
import subprocess
import sys
import tempfile

import bpy

import blender_img2mesh
import helpers
from blender_img2mesh.blender.client import jobs

# a "Blender" (bpy as a module) that generates a mesh from a photo big enough to take a
# while, printing the worker's pid, its temp folder, and a line per stage
BLENDER_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
import bpy
import blender_img2mesh
from blender_img2mesh.blender.client import jobs

blender_img2mesh.register()
start = jobs.Runner.start

def tell(self):
    start(self)
    print("worker", self.job.worker.pid, self.temp_dir, flush=True)
    return self

jobs.Runner.start = tell
bpy.ops.img2mesh.generate(filepath=sys.argv[2], depth_model="inflate",
                          remove_background=False, poisson_depth=11, max_size=1024,
                          back="mirror")  # about a minute, mostly in native code
print("finished", flush=True)
"""


def test_worker_ends_when_blender_is_killed_mid_job():
    blender = subprocess.Popen(
        [sys.executable, "-c", BLENDER_SCRIPT, helpers.REPO, helpers.photo("astronaut.png")],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        worker_pid = temp_dir = None
        for line in blender.stdout:  # wait until the job is past loading, mid-run
            if line.startswith("worker "):
                _, pid, temp_dir = line.split()
                worker_pid = int(pid)
            if "Poisson reconstruction" in line:  # inside a long native call
                break
        assert worker_pid and helpers.pid_alive(worker_pid), "the job never got going"
        assert os.path.basename(temp_dir).startswith(f"img2mesh-{blender.pid}-")
        blender.send_signal(signal.SIGKILL)
        blender.wait()
        # gone within 2 s, its process group with it (polled: no fixed sleep)
        assert helpers.wait_until(lambda: not helpers.pid_alive(worker_pid), timeout=2.0)
        assert helpers.wait_until(lambda: helpers.group_members(worker_pid) == [], 2.0)
    finally:
        if blender.poll() is None:
            blender.kill()
            blender.wait()
        if worker_pid and helpers.pid_alive(worker_pid):  # the test failed: no orphan
            os.killpg(worker_pid, signal.SIGKILL)
    # the dead Blender's temp folder goes at the next start of the add-on
    assert os.path.isdir(temp_dir)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_img2mesh.register()
    try:
        assert not os.path.exists(temp_dir)
    finally:
        blender_img2mesh.unregister()


def test_only_folders_of_dead_blenders_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid no process has (now)
    stale = tmp_path / f"img2mesh-{dead.pid}-abc_12"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "x.ply").write_bytes(b"ply")
    mine = tmp_path / f"img2mesh-{os.getpid()}-def34"   # this (running) Blender's
    alive = tmp_path / "img2mesh-1-ghi56"                # pid 1 is always running
    old_style = tmp_path / "img2mesh-q8x_z1"             # no pid: cannot tell, kept
    other = tmp_path / f"photos-{dead.pid}-abc"
    for path in (mine, alive, old_style, other):
        path.mkdir()
    assert jobs.remove_stale_temp_dirs(str(tmp_path)) == [str(stale)]
    assert not stale.exists()
    assert all(p.is_dir() for p in (mine, alive, old_style, other))
    new = jobs.new_temp_dir()
    try:
        assert os.path.basename(new).startswith(f"img2mesh-{os.getpid()}-")
        assert os.path.dirname(new) == tempfile.gettempdir()
        assert new not in jobs.remove_stale_temp_dirs()  # this Blender's own: kept
        assert os.path.isdir(new)
    finally:
        os.rmdir(new)
