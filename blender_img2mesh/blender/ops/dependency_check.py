"""*Check Dependencies* without freezing Blender: the import check (8-13 s: torch,
open3d, transformers, rembg in a child Python, :func:`interpreter.check_dependencies`)
waits on a thread; a ``bpy.app.timers`` function brings its answer to the preferences,
which say "Checking ..." until then.  In background mode (``blender -b``: timers never
run) the check runs at once, synchronously."""

import threading

import bpy

from ..addon_prefs import get_prefs, python_for
from ..client import interpreter
from . import runner
from .runner import redraw

#: how often the timer looks at the thread (seconds)
POLL = 0.2


class Check:
    """One dependency check of ``exe`` on a daemon thread; ``result`` is ``(ok, status)``
    once ``done``."""

    def __init__(self, exe, run=None):
        self.exe, self.result, self.ticks = exe, None, 0
        run = run or interpreter.check_dependencies
        self._thread = threading.Thread(target=self._work, args=(run,), daemon=True,
                                        name="img2mesh-check")

    def _work(self, run):
        try:
            ok, status = run(self.exe)
        except Exception as exc:  # never leave the preferences saying "Checking..."
            ok, status = False, f"the check failed: {exc}"
        self.result = (ok, f"{self.exe}: {status}")

    def start(self):
        self._thread.start()
        return self

    @property
    def done(self):
        return self.result is not None


#: the check in progress (the preferences draw it), or None
current = None


def synchronous():
    """Background mode: no timer would ever deliver the answer."""
    return bpy.app.background


def status_text(ok, status):
    return ("OK - " if ok else "Missing - ") + status


def _deliver():
    """The timer: the answer into the preferences when the thread has it."""
    global current
    check = current
    if check is None:
        return None
    check.ticks += 1
    if not check.done:
        redraw(bpy.context, ("PREFERENCES",))  # the spinner turns
        return POLL
    current = None
    prefs = get_prefs()
    if prefs is not None:
        prefs.dependency_status = status_text(*check.result)
    redraw(bpy.context, ("PREFERENCES",))
    print(f"Img2Mesh: dependency check: {status_text(*check.result)}")
    return None


def stop():
    """Unregister: forget a running check (its thread ends with its child)."""
    global current
    current = None
    if bpy.app.timers.is_registered(_deliver):
        bpy.app.timers.unregister(_deliver)


def draw(layout, prefs, context=None):
    """The status line: a turning ring (4.0+) or "Checking ..." while the check runs."""
    from ..ui.text import wrap

    check = current
    if check is None:
        status = prefs.dependency_status
        icon = "CHECKMARK" if status.startswith("OK") else \
            "ERROR" if status.startswith("Missing") else "NONE"
        wrap(layout, context or bpy.context, status, icon=icon)  # the whole line: nothing cut
        return
    text = f"Checking {check.exe} ..."
    if hasattr(layout, "progress"):
        layout.progress(factor=(check.ticks % 10) / 10.0, type="RING", text=text)
    else:
        layout.label(text=text, icon="SORTTIME")


class IMG2MESH_OT_check_dependencies(bpy.types.Operator):
    """Check that the worker's Python can import what a job needs (onnxruntime, open3d,
    scipy, Pillow) and which optional parts (PyTorch) it has; in the background"""

    bl_idname = "img2mesh.check_dependencies"
    bl_label = "Check Dependencies"

    @classmethod
    def poll(cls, context):
        return runner.free(cls, current, "the check is running")

    def execute(self, context):
        global current
        prefs = get_prefs(context)
        try:
            exe = python_for(prefs)
        except interpreter.InterpreterError as exc:
            if prefs is not None:
                prefs.dependency_status = status_text(False, str(exc))
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if synchronous():  # no timers: the answer now
            ok, status = interpreter.check_dependencies(exe)
            status = f"{exe}: {status}"
            if prefs is not None:
                prefs.dependency_status = status_text(ok, status)
            self.report({"INFO"} if ok else {"ERROR"}, status)
            return {"FINISHED"} if ok else {"CANCELLED"}
        current = Check(exe).start()
        if not bpy.app.timers.is_registered(_deliver):
            # persistent: opening a file meanwhile must not leave "Checking ..." forever
            bpy.app.timers.register(_deliver, first_interval=POLL, persistent=True)
        redraw(context, ("PREFERENCES",))
        return {"FINISHED"}
