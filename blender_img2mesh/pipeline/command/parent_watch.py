"""The worker ends when the program that started it dies (Blender crashed or was killed).

The add-on starts the worker with ``IMG2MESH_PARENT_PID`` set to Blender's pid.  Then:

* on Linux the kernel sends SIGTERM when the parent dies (``PR_SET_PDEATHSIG``; set only
  when ``IMG2MESH_PDEATHSIG=1``: the add-on sets it when the worker was started from
  Blender's main thread, since the kernel fires it when the *thread* that started the
  process ends, not the process);
* everywhere, a daemon thread looks every 0.2 s whether the parent is gone (POSIX: the
  parent pid changed, or the request pipe has no writer left; Windows: the parent
  process has ended) and sends SIGTERM to the worker itself.

SIGTERM ends the running job cleanly (:mod:`.signals`: its temporary files are removed)
and then the worker.  When the main thread is inside a long native call (a network, a
surface reconstruction) and cannot run the handler, the thread ends the worker and its
process group the hard way after :data:`GRACE` seconds: what that leaves is inside the
add-on's temporary folder, which the add-on removes at its next start.

Without ``IMG2MESH_PARENT_PID`` (the worker run by hand, requests piped from a file)
nothing is watched.
"""

import os
import signal
import stat
import sys
import threading
import time

#: seconds between two looks at the parent
INTERVAL = 0.2
#: seconds the main thread gets to end cleanly after SIGTERM
GRACE = 0.6


def _set_pdeathsig():
    """Linux: SIGTERM when the parent (thread) dies.  False when not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _windows_parent_alive(pid):
    import ctypes

    kernel32 = ctypes.windll.kernel32
    SYNCHRONIZE, WAIT_TIMEOUT = 0x00100000, 0x102
    handle = kernel32.OpenProcess(SYNCHRONIZE, False, pid)
    if not handle:
        return False
    try:
        return kernel32.WaitForSingleObject(handle, 0) == WAIT_TIMEOUT
    finally:
        kernel32.CloseHandle(handle)


def _stdin_hung_up():
    """The request pipe has no writer left (POSIX pipes only; a terminal never does)."""
    try:
        fd = sys.stdin.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        import select

        poller = select.poll()
        poller.register(fd, select.POLLHUP)
        return any(event & select.POLLHUP for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def parent_gone(parent_pid):
    if os.name == "nt":
        return not _windows_parent_alive(parent_pid)
    return os.getppid() != parent_pid or _stdin_hung_up()


def _end_self():
    """SIGTERM to this process (a clean end); the hard way if it is still here later."""
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE)
    if os.name != "nt" and os.getpgrp() == os.getpid():  # our own group: children too
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(128 + int(signal.SIGTERM))


def _watch(parent_pid):
    while not parent_gone(parent_pid):
        time.sleep(INTERVAL)
    _end_self()


def start(environ=os.environ):
    """Watch the parent named by ``IMG2MESH_PARENT_PID``; the watching thread or None."""
    # read once, not inherited by what the worker starts (whose parent it is not)
    pid_text, pdeathsig = (environ.pop(name, "") for name in ("IMG2MESH_PARENT_PID",
                                                             "IMG2MESH_PDEATHSIG"))
    try:
        parent_pid = int(pid_text)
    except ValueError:
        return None
    if pdeathsig == "1":
        _set_pdeathsig()
    thread = threading.Thread(target=_watch, args=(parent_pid,), daemon=True,
                              name="img2mesh-parent-watch")
    thread.start()
    return thread
