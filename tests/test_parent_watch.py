"""The worker started by the add-on (``IMG2MESH_PARENT_PID``) ends when its parent is
gone, also in the middle of a job (pipeline/command/parent_watch.py); without it, it does not."""

import json
import os
import signal
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _worker(**env):
    full = dict(os.environ, **env)
    return subprocess.Popen([sys.executable, "-m", "blender_img2mesh.pipeline.worker"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full, cwd=REPO,
                            start_new_session=True)


def _read_until(proc, predicate):
    for line in proc.stdout:
        event = json.loads(line)
        if predicate(event):
            return event
    raise AssertionError("the worker ended before: " + proc.stderr.read()[-2000:])


def test_parent_not_the_one_named_ends_the_idle_worker():
    """The parent that started it is not its parent any more (it died, the worker was
    re-parented): the worker ends at once, stdin still open, with SIGTERM's exit code."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    proc = _worker(IMG2MESH_PARENT_PID=str(dead.pid), IMG2MESH_PDEATHSIG="0")
    try:
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdin.close()


def test_request_pipe_closed_mid_job_ends_the_worker(tmp_path, photo):
    """The parent's end of the request pipe closes (Blender died on a system without
    the parent-pid signal) while a long job runs in native code: the worker ends, and
    nothing is left in the output folder."""
    proc = _worker(IMG2MESH_PARENT_PID=str(os.getpid()), IMG2MESH_PDEATHSIG="0")
    try:
        out = tmp_path / "out"
        out.mkdir()
        args = [photo("astronaut.png"), "-o", str(out / "a.ply"), "--keep-background",
                "--depth-model", "inflate", "--max-size", "1024", "--back", "mirror",
                "--poisson-depth", "11"]
        proc.stdin.write(json.dumps({"id": "slow", "args": args}) + "\n")
        proc.stdin.flush()
        _read_until(proc, lambda e: "Poisson" in str(e.get("message")))
        proc.stdin.close()
        # left alone, the job would write a.ply in about a minute; instead the worker
        # ends the job (SIGTERM's clean end, or the hard end of its process group when
        # the main thread stays inside the native call) and then itself
        rest = [json.loads(line) for line in proc.stdout]
        assert proc.wait(timeout=120) is not None
        assert not [e for e in rest if e["event"] == "result"]
        assert list(out.iterdir()) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_without_a_parent_pid_nothing_is_watched(tmp_path):
    """Run by hand (no IMG2MESH_PARENT_PID), requests piped from a file: it answers
    them all, however its parent looks, and ends normally at the end of input."""
    full = {k: v for k, v in os.environ.items() if k != "IMG2MESH_PARENT_PID"}
    proc = subprocess.run([sys.executable, "-m", "blender_img2mesh.pipeline.worker"],
                          input=json.dumps({"id": "x", "cmd": "nope"}) + "\n",
                          capture_output=True, text=True, env=full, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event"] for e in events] == ["start", "error"]


def test_a_native_crash_leaves_the_python_stack_on_stderr():
    """A segfault in the worker (here a SIGSEGV while it waits for a request) is not
    silent: faulthandler prints the threads' Python stacks on stderr, which the add-on's
    "worker stopped unexpectedly" message and the Info log show."""
    proc = _worker()
    try:
        proc.stdin.write(json.dumps({"id": "x", "args": ["--version"]}) + "\n")
        proc.stdin.flush()
        _read_until(proc, lambda e: e.get("id") == "x" and e.get("event") in ("result",
                                                                               "error"))
        os.kill(proc.pid, signal.SIGSEGV)
        err = proc.stderr.read()
        assert proc.wait(timeout=30) == -signal.SIGSEGV
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Fatal Python error: Segmentation fault" in err
    assert "serve" in err  # the main thread's stack, down to the request loop
