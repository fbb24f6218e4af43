"""Cancelling and a dying worker: no process left, no temp folder left, a clear error,
and Blender stays usable.  The modal operator drives exactly this Runner from its timer
(modal operators and timers never run in background mode)."""

import os
import signal
import threading
import time

import bpy
import pytest

import helpers
from blender_img2mesh.blender.client import jobs, worker_client


def _runner(python, photo, *extra):
    temp_dir = jobs.new_temp_dir()
    args = [photo, "-o", os.path.join(temp_dir, "out.ply"), "--depth-model", "inflate",
            "--keep-background", "--offline", *extra]
    return jobs.Runner(python, args, temp_dir).start()


def _tick_until(runner, predicate, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not runner.finished:
        runner.tick()
        if predicate(runner):
            return True
        time.sleep(0.05)
    return False


def test_cancel_real_worker_mid_run(addon):
    worker_client.release()
    runner = _runner(helpers.PIPELINE_PYTHON, helpers.photo("astronaut.png"),
                     "--poisson-depth", "10", "--max-size", "1024")
    pid = runner.job.worker.pid
    assert jobs.running() and jobs.current is runner
    # wait until the job is really under way (past loading), then press Cancel
    assert _tick_until(runner, lambda r: r.stage in ("depth", "points", "surface"))
    assert not runner.finished and os.path.isdir(runner.temp_dir)
    bpy.ops.img2mesh.cancel()  # the panel's button: the next timer tick cancels
    assert runner.tick() is True
    assert runner.error == "cancelled" and runner.result is None
    assert not helpers.pid_alive(pid) and helpers.group_members(pid) == []
    assert not os.path.exists(runner.temp_dir)
    assert not jobs.running() and worker_client.warm_worker() is None


def test_cancel_kills_the_workers_children(addon, fake_worker):
    pidfile = fake_worker("hang")
    runner = _runner(helpers.FAKE_PYTHON, helpers.photo())
    assert helpers.wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 30)
    worker_pid, child_pid = map(int, pidfile.read_text().split())
    assert helpers.pid_alive(child_pid)
    runner.cancel()  # what Esc does in the modal operator
    assert not helpers.pid_alive(worker_pid) and not helpers.pid_alive(child_pid)
    assert helpers.group_members(worker_pid) == []
    assert not os.path.exists(runner.temp_dir)


@pytest.mark.parametrize("mode, how", [("hang", signal.SIGTERM), ("stubborn", signal.SIGKILL)])
def test_cancel_asks_with_sigterm_first(addon, fake_worker, mode, how):
    """Cancel sends SIGTERM (the worker cleans up and exits) and SIGKILL only to what is
    still there after the grace period: a worker ignoring SIGTERM, and its children."""
    pidfile = fake_worker(mode)
    runner = _runner(helpers.FAKE_PYTHON, helpers.photo())
    proc = runner.job.worker.proc
    assert helpers.wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 30)
    worker_pid, child_pid = map(int, pidfile.read_text().split())
    runner.cancel()
    assert proc.returncode == -how
    assert not helpers.pid_alive(worker_pid) and not helpers.pid_alive(child_pid)
    assert helpers.group_members(worker_pid) == []
    assert not os.path.exists(runner.temp_dir)


def test_crashing_worker_gives_clear_error(addon, fake_worker):
    fake_worker("crash")
    with pytest.raises(RuntimeError, match=r"worker stopped unexpectedly \(exit code 3\): "
                       r"MemoryError: boom"):
        bpy.ops.img2mesh.generate(filepath=helpers.photo())
    assert len(bpy.data.objects) == 0 and len(bpy.data.meshes) == 0
    fake_worker("ok")
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo()) == {"FINISHED"}


def test_killed_real_worker_then_next_run_works(addon):
    worker_client.release()
    killed = []

    def kill_when_busy():
        end = time.monotonic() + 60
        while time.monotonic() < end:
            w = worker_client.warm_worker()
            runner = jobs.current
            if w is not None and runner and runner.stage in ("depth", "points", "surface"):
                os.kill(w.pid, signal.SIGKILL)
                killed.append(w.pid)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=kill_when_busy)
    thread.start()
    before = helpers.temp_dirs()
    with pytest.raises(RuntimeError, match=r"worker stopped unexpectedly \(exit code -9\)"):
        bpy.ops.img2mesh.generate(filepath=helpers.photo("astronaut.png"), depth_model="inflate",
                                  remove_background=False, poisson_depth=10, max_size=1024)
    thread.join()
    assert killed and not helpers.pid_alive(killed[0])
    assert len(bpy.data.objects) == 0 and helpers.temp_dirs() <= before
    # Blender is still usable: a new worker is started for the next run
    assert bpy.ops.img2mesh.generate(filepath=helpers.photo("chelsea.png"), depth_model="inflate",
                                     remove_background=False, poisson_depth=6) == {"FINISHED"}
    assert worker_client.warm_worker().pid != killed[0]


def test_release_models_while_running_cancels_cleanly(addon, fake_worker):
    pidfile = fake_worker("hang")
    runner = _runner(helpers.FAKE_PYTHON, helpers.photo())
    assert helpers.wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 30)
    worker_pid, child_pid = map(int, pidfile.read_text().split())
    assert bpy.ops.img2mesh.release_models() == {"FINISHED"}
    assert runner.finished and runner.error == "cancelled"
    assert not helpers.pid_alive(worker_pid) and not helpers.pid_alive(child_pid)
    assert not os.path.exists(runner.temp_dir) and worker_client.warm_worker() is None
