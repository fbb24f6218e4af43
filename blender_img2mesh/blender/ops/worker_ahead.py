"""Start the warm worker ahead: when the sidebar panel is first drawn, or an image is
picked, the worker starts in the background and loads the panel's models (a ``preload``
request, docs/protocol.md), so that the first Generate finds them loaded.

Never blocks Blender: the panel's draw only registers a one-shot ``bpy.app.timers``
function; the worker's answers are read by a timer while no job runs (a job started
meanwhile reads them itself and shows "Loading models").  Off with the preference *Start
Worker Ahead*; never in background mode (``blender -b``) unless ``$IMG2MESH_WORKER_AHEAD``
is ``1``.
"""

import itertools
import os
import queue

import bpy

from ..addon_prefs import get_prefs, python_for
from ..client import interpreter, jobs, worker_client
from ..ui import properties

#: seconds between a settings change (depth model, image) and the preload it causes:
#: several changes in a row send one request
DEBOUNCE = 0.5
POLL = 0.2
_ids = itertools.count(1)
_panel_seen = False
_sent = None  # (worker, args) of the last preload sent: the same again is not re-sent
status = ""  # what the last preload said (shown in the preferences)


class Preload:
    """One ``preload`` request on the warm worker (no bpy here)."""

    def __init__(self, python, args, extra_env=None):
        self.id = f"preload-{os.getpid()}-{next(_ids)}"
        self.args = list(args)
        self.worker = worker_client.get_worker(python, extra_env)
        self.result = self.error = None
        self.worker.preloads.add(self.id)
        self.worker.send({"id": self.id, "cmd": "preload", "args": self.args})

    @property
    def done(self):
        return self.id not in self.worker.preloads or not self.worker.alive()

    def poll(self):
        """Read the worker's events while no job does (the job reads them otherwise)."""
        while not self.done and not jobs.running():
            try:
                event = self.worker.events.get_nowait()
            except queue.Empty:
                break
            if event is worker_client.EOF_EVENT:  # the worker died: the next job restarts it
                self.worker.preloads.discard(self.id)
                self.error = "the worker stopped: " + self.worker.last_error_line()
                worker_client.forget(self.worker)
                break
            if event.get("id") in self.worker.preloads and \
                    event["event"] in ("result", "error"):
                self.worker.preloads.discard(event["id"])
                if event["id"] == self.id:
                    if event["event"] == "result":
                        self.result = event
                    else:
                        self.error = worker_client.error_text(event)
        return self.done


def allowed(context=None):
    """The preference is on (or there are none), and Blender has a window (or asked)."""
    prefs = get_prefs(context)
    if not getattr(prefs, "start_ahead", True):
        return False
    return not bpy.app.background or os.environ.get("IMG2MESH_WORKER_AHEAD") == "1"


def preload_args(settings, prefs=None):
    """The panel's settings as a preload's arguments: a job's, without photo and output,
    and always ``--offline``: what was not asked for downloads nothing (Generate does, with
    its progress shown); a missing model is the preload's error, an ``auto`` depth model
    that is not there loads nothing."""
    args = properties.cli_args(settings, "photo", "out.ply", prefs)[3:]  # [photo, -o, out
    return args if "--offline" in args else args + ["--offline"]


_pending = []  # the Preload being read by the timer


def start(context=None):
    """Start the worker (if not running) and send a preload of the panel's models; the
    Preload, or None (not allowed, a job running, nothing new to load, a bad setting)."""
    global _sent, status
    context = context or bpy.context
    settings = getattr(getattr(context, "scene", None), "img2mesh", None)
    if settings is None or jobs.running() or not allowed(context):
        return None
    prefs = get_prefs(context)
    try:
        args = preload_args(settings, prefs)
        python = python_for(prefs)
    except (ValueError, interpreter.InterpreterError) as exc:
        status = f"not started ahead: {exc}"
        return None
    warm = worker_client.warm_worker()
    if _sent is not None and warm is _sent[0] and warm.alive() and _sent[1] == args:
        return None  # these models are loaded (or loading) already
    try:
        preload = Preload(python, args)
    except (OSError, worker_client.WorkerDied) as exc:
        status = f"cannot start the worker with {python}: {exc}"
        return None
    _sent, status = (preload.worker, args), "loading models"
    _pending[:] = [preload]
    if not bpy.app.timers.is_registered(_poll):
        bpy.app.timers.register(_poll, first_interval=POLL)
    return preload


def _poll():
    """Timer: read the preload's answer; stops once it is done."""
    global status
    if not _pending:
        return None
    preload = _pending[0]
    if not preload.poll():
        return POLL
    _pending.clear()
    if preload.error:
        status = f"preload failed: {preload.error}"
    elif preload.result is not None:
        status = f"models loaded in {preload.result.get('seconds', 0):.1f} s"
    else:  # a job read the answer, or the worker was stopped (Release Models, Cancel)
        status = "models loaded" if preload.worker.alive() else "worker stopped"
    return None


def _start_timer():
    start()
    return None  # one shot


def schedule(delay=DEBOUNCE):
    """(Re)start the countdown to a preload: settings changes in a row send one."""
    if not allowed():
        return
    if bpy.app.timers.is_registered(_start_timer):
        bpy.app.timers.unregister(_start_timer)
    bpy.app.timers.register(_start_timer, first_interval=delay)


def panel_drawn():
    """From the panel's draw: the first time only, schedule the start (never blocks)."""
    global _panel_seen
    if not _panel_seen:
        _panel_seen = True
        schedule(0.1)


def on_setting_changed(settings, context):
    """Update callback of the image and depth-model settings (debounced preload)."""
    schedule()


def reset():
    """Unregister (the timers go, the worker is released by the caller)."""
    global _panel_seen, _sent
    for fn in (_start_timer, _poll):
        if bpy.app.timers.is_registered(fn):
            bpy.app.timers.unregister(fn)
    _pending.clear()
    _panel_seen, _sent = False, None


properties.SETTING_LISTENERS.append(on_setting_changed)
