"""Model downloads from the add-on's preferences (``img2mesh.download_model``).

The worker runs ``--download NAME`` (pipeline/command/fetch.py): the model goes into the models
folder with progress events, like a generation's.  Blender 4.2+ allows it only with
*Online Access* on (``bpy.app.online_access``); generations get ``--offline`` otherwise.
"""

import bpy
from bpy.props import StringProperty

from ...pipeline.models import (default_models_dir, download_folder, offline_variable,
                                partial_folder)
from ..addon_prefs import get_prefs, online_access, python_for
from ..client import interpreter, jobs, model_files
from ..ui import panel_info
from ..ui.messages import Message, draw_message
from ..ui.progress import draw_progress
from ..ui.text import report_error
from .runner import RunnerOperator

#: what the preferences offer to download (name, label, what it is)
MODELS = (
    ("depth-anything-v2-small", "Depth Anything V2 Small", "default depth model, ~100 MB"),
    ("glpn-nyu", "GLPN NYU", "the original prototype's depth model, ~250 MB"),
    ("u2netp", "U2-Net Small", "background removal, 4.6 MB (bundled in platform zips)"),
    ("sd-turbo", "SD Turbo", "text to image, ~2.6 GB, non-commercial license"),
)


class IMG2MESH_OT_download_model(RunnerOperator, bpy.types.Operator):
    """Download a model into the models folder"""

    bl_idname = "img2mesh.download_model"
    bl_label = "Download"
    # Online Access exists from Blender 4.2 on: the tooltip names it only there
    bl_description = __doc__ + (" (needs Online Access)"
                                 if hasattr(bpy.app, "online_access") else "")

    name: StringProperty(name="Model", default="depth-anything-v2-small")
    redraw_areas = ("PREFERENCES",)

    @classmethod
    def poll(cls, context):
        why = None
        if jobs.running():
            why = "the worker is busy"
        elif not online_access():
            why = "Online Access is off (Preferences > System > Network)"
        elif offline_variable():
            why = f"downloads are off: {offline_variable()} is set"
        if why and hasattr(cls, "poll_message_set"):
            cls.poll_message_set(why)
        return why is None

    def _start(self, context):
        prefs = get_prefs(context)
        args = ["--download", self.name]
        models_dir = default_models_dir()  # the worker's default too (same environment)
        if prefs is not None and prefs.models_dir:
            models_dir = bpy.path.abspath(prefs.models_dir)
            args += ["--models-dir", models_dir]
        try:
            python = python_for(prefs)
        except interpreter.InterpreterError as exc:
            report_error(self, str(exc))
            return False
        keep = getattr(prefs, "keep_worker", True) if prefs else True
        # Cancel kills the worker mid-download: its .partial folder is removed after it
        target = download_folder(self.name, models_dir)
        self._runner = jobs.Runner(python, args, None, keep_worker=keep, leftovers=[
            partial_folder(target)] if target else []).start()
        return True

    def _finish(self, context):
        runner = self._runner
        if runner.error == "cancelled":
            panel_info.record_cancelled()
            self.report({"WARNING"}, "Img2Mesh: cancelled")
            return {"CANCELLED"}
        if runner.error:  # the first sentence in the popup, all of it in the Info log
            panel_info.record_error(runner.error)
            report_error(self, runner.error)
            return {"CANCELLED"}
        label = dict((name, label) for name, label, _ in MODELS).get(self.name, self.name)
        panel_info.show([Message(
            "CHECKMARK", (f"{label} downloaded", "Downloaded"),
            f"{label} downloaded: {runner.result['path']}")])
        self.report({"INFO"}, f"Img2Mesh: {self.name} is ready: {runner.result['path']}")
        return {"FINISHED"}

    def execute(self, context):
        if not self._start(context):
            return {"CANCELLED"}
        self._runner.wait()
        return self._finish(context)


def models_folder(prefs):
    """The models folder the worker uses (the preference, else its default)."""
    if prefs is not None and prefs.models_dir:
        return bpy.path.abspath(prefs.models_dir)
    return default_models_dir()


def draw(layout, prefs=None, context=None):
    """The preferences' Models box: per model, where it already is (and its size), or a
    Download button -- greyed out, the reason above, when downloads are off; and the
    progress of a download.  A model's name and what it is are two columns, so that
    neither is cut at the preferences window's default size."""
    box = layout.box()
    why = panel_info.downloads_off()
    box.label(text="Models", icon="WORLD" if why is None else "ERROR")
    if why is not None:
        draw_message(box, context, "prefs_download_off", why)
    runner = jobs.current
    if runner is not None and not runner.finished and "--download" in runner.args:
        draw_progress(box.column(), runner, context)
    folder = models_folder(prefs)
    for name, label, what in MODELS:
        split = box.split(factor=0.4)
        where = model_files.present(name, folder)
        split.label(text=label, icon="CHECKMARK" if where else "BLANK1")
        row = split.row()
        if where:
            size = model_files.human_size(model_files.size_bytes(where))
            row.label(text=f"present ({size})")
            continue
        row.label(text=what)
        sub = row.row()
        sub.enabled = why is None
        sub.operator(IMG2MESH_OT_download_model.bl_idname, icon="IMPORT").name = name
