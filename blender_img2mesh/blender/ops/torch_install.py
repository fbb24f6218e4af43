"""*Install PyTorch* (the add-on's optional part) with progress and Cancel, never blocking
Blender: pip runs in a child process (``client.torch_install.Install``), a
``bpy.app.timers`` function reads its output and redraws the preferences.  In background
mode (``blender -b``: timers never run) the operator waits for pip itself."""

import time

import bpy

from ..client import interpreter, torch_install
from . import runner
from .runner import redraw

POLL = 0.25
#: the install in progress (the preferences draw it), or None
current = None
#: how the last install ended ("" before any)
last_result = ""


def available(origin):
    """PyTorch is there for the worker: installed into the add-on, or the worker runs a
    Python of the user's own (which brings its own packages: the worker says if not)."""
    return origin != interpreter.FROM_BLENDER or torch_install.installed()


def _tick():
    global current, last_result
    job = current
    if job is None:
        return None
    job.poll()
    redraw(bpy.context, ("PREFERENCES", "VIEW_3D"))
    if not job.done:
        return POLL
    current = None
    last_result = ("PyTorch installed in " + job.target) if job.ok else \
        f"PyTorch not installed: {job.error}"
    print(f"Img2Mesh: {last_result}")
    return None


def stop():
    """Unregister: cancel a running install."""
    global current
    if current is not None:
        current.cancel()
        current = None
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)


def draw(layout):
    """What the optional part is, its progress while installing, or how it ended."""
    box = layout.box()
    if current is not None:
        text = f"Installing PyTorch: {current.line}"
        if hasattr(layout, "progress"):
            box.progress(factor=current.fraction, type="BAR", text=text)
        else:
            box.label(text=f"{text} ({current.fraction:.0%})", icon="SORTTIME")
        box.operator("img2mesh.cancel_torch_install", icon="CANCEL")
        return
    if torch_install.installed():
        box.label(text=f"PyTorch installed in {torch_install.target_dir()}", icon="CHECKMARK")
    else:
        box.label(text="Optional: PyTorch and COLMAP", icon="PACKAGE")
        box.label(text="For the text prompt, Views, depth models without ONNX")
        box.label(text=torch_install.SIZE_NOTE)
    if last_result:
        box.label(text=last_result, icon="INFO")
    box.operator("img2mesh.install_torch", icon="IMPORT",
                 text="Reinstall PyTorch" if torch_install.installed() else "Install PyTorch")


class IMG2MESH_OT_install_torch(bpy.types.Operator):
    """Install PyTorch, transformers and diffusers into the add-on's folder with pip (the
    text prompt needs them; depth models run without).  Runs in the background"""

    bl_idname = "img2mesh.install_torch"
    bl_label = "Install PyTorch"

    @classmethod
    def poll(cls, context):
        return runner.free(cls, current, "the install is running")

    def execute(self, context):
        global current, last_result
        import numpy

        try:
            python = interpreter.blender_python()
        except interpreter.InterpreterError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not bpy.app.online_access:
            self.report({"ERROR"}, "Blender's online access is off (Preferences > System > "
                        "Network): the install downloads from the package index")
            return {"CANCELLED"}
        current = torch_install.Install(python, numpy.__version__)
        last_result = ""
        if bpy.app.background:  # no timers: wait here
            while _tick() is not None:
                time.sleep(POLL)
            ok = last_result.startswith("PyTorch installed")
            self.report({"INFO"} if ok else {"ERROR"}, last_result)
            return {"FINISHED"} if ok else {"CANCELLED"}
        bpy.app.timers.register(_tick, first_interval=POLL, persistent=True)
        return {"FINISHED"}


class IMG2MESH_OT_cancel_torch_install(bpy.types.Operator):
    """Stop the PyTorch install and remove what it wrote"""

    bl_idname = "img2mesh.cancel_torch_install"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return current is not None

    def execute(self, context):
        global current, last_result
        current.cancel()
        current = None
        last_result = "PyTorch not installed: cancelled"
        redraw(context, ("PREFERENCES",))
        return {"FINISHED"}


CLASSES = (IMG2MESH_OT_install_torch, IMG2MESH_OT_cancel_torch_install)
