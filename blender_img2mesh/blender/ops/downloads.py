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
from ..ui.text import region_px, report_error
from .runner import RunnerOperator

#: what the preferences offer to download: (name, label, what it is: all of it first, then
#: shorter forms for a narrow window -- the row shows the longest that fits)
MODELS = (
    ("depth-anything-v2-small", "Depth Anything V2 Small",
     ("default depth model, ~100 MB", "default depth, ~100 MB", "~100 MB")),
    ("glpn-nyu", "GLPN NYU", ("the original prototype's depth model, ~250 MB",
                              "older depth model, ~250 MB", "~250 MB")),
    ("u2netp", "U2-Net Small", ("background removal, 4.6 MB (bundled in platform zips)",
                                "background removal, 4.6 MB", "4.6 MB")),
    ("sd-turbo", "SD Turbo", ("text to image, ~2.6 GB, non-commercial license",
                              "~2.6 GB, non-commercial license", "~2.6 GB, non-commercial",
                              "~2.6 GB")),
)
#: the models box's columns: a model's name (this share of the row), then what it is
#: (this share of the rest) and Download
NAME_COLUMN, WHAT_COLUMN = 0.36, 0.66
#: the preferences' margins around a box's inside, and a line's own padding and the
#: columns' gaps, px at scale 1 (Blender 3.4's preferences at their default size: the
#: column holds 190 px; Blender's text is a little narrower than text.text_px says)
BOX_MARGINS, LABEL_PAD = 40, 20


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


def what_width(context):
    """How wide the column saying what a model is may be, px at scale 1."""
    return (region_px(context) - BOX_MARGINS) * (1 - NAME_COLUMN) * WHAT_COLUMN - LABEL_PAD


def draw(layout, prefs=None, context=None):
    """The preferences' Models box: per model, where it already is (and its size), or a
    Download button -- greyed out, the reason above, when downloads are off; and the
    progress of a download.  A model's name, what it is and Download are three columns;
    what it is shows its longest form that fits (all of it in the line's tooltip), so
    nothing is cut at the preferences window's default size."""
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
        split = box.split(factor=NAME_COLUMN)
        where = model_files.present(name, folder)
        split.label(text=label, icon="CHECKMARK" if where else "BLANK1")
        if where:
            size = model_files.human_size(model_files.size_bytes(where))
            split.label(text=f"present ({size})")
            continue
        row = split.split(factor=WHAT_COLUMN)
        draw_message(row, context, f"model_{name}", Message("NONE", what),
                     width=what_width(context))
        sub = row.row()
        sub.enabled = why is None
        sub.operator(IMG2MESH_OT_download_model.bl_idname, icon="IMPORT").name = name
