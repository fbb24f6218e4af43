"""Add-on preferences: worker interpreter, models folder, device, dependency check."""

import sys

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ..addon_prefs import ADDON_NAME
from ..client import interpreter, jobs, vendor, worker_client
from ..ops import dependency_check, downloads, torch_install, worker_ahead
from ..scene import placement, texture
from .text import wrap

#: registered from here (the operator lives with its thread and timer)
IMG2MESH_OT_check_dependencies = dependency_check.IMG2MESH_OT_check_dependencies


def interpreter_text(preference):
    """(icon, line, origin) for the interpreter the worker really runs: which one and
    where it came from."""
    exe, origin, error = interpreter.in_use(preference)
    if error:
        return "ERROR", error, origin
    if origin == interpreter.FROM_ENV:
        why = "from $IMG2MESH_PYTHON" + (", which overrides the preference above"
                                         if (preference or "").strip() else "")
    elif origin == interpreter.FROM_PREFERENCE:
        why = "the preference above"
    else:
        ver = "%d.%d" % sys.version_info[:2]
        why = f"Blender's own Python {ver}"
        if vendor.packaged_wheels() or vendor.vendor_dir():
            why += " + the bundled packages"
    return "CONSOLE", f"In use: {exe} ({why})", origin


class IMG2MESH_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_NAME

    python_path: StringProperty(
        name="Python Interpreter", subtype="FILE_PATH", default="",
        description="A Python of your own with the command line's packages "
        "(requirements.txt) installed "
        "($IMG2MESH_PYTHON, when set, wins; empty: Blender's own Python)")
    models_dir: StringProperty(
        name="Models Folder", subtype="DIR_PATH", default="",
        description="Folder of local models (empty: $IMG2MESH_MODELS or "
        "~/.cache/blender_img2mesh/models)")
    device: EnumProperty(name="Device", default="auto", items=(
        ("auto", "Auto", "GPU when available"), ("cpu", "CPU", ""),
        ("cuda", "CUDA", "NVIDIA GPU"), ("mps", "Apple MPS", "Apple silicon GPU")))
    keep_worker: BoolProperty(
        name="Keep Models Loaded", default=True,
        description="Keep the worker process (and its loaded models) alive between runs")
    start_ahead: BoolProperty(
        name="Start Worker Ahead", default=True,
        description="Start the worker and load the chosen models in the background when "
        "the Img2Mesh panel is first shown or an image is picked, so the first Generate "
        "is as fast as the next ones")
    texture_storage: EnumProperty(
        name="Texture Storage", items=texture.STORAGES, default="PACK",
        description="Where the texture image of a generated mesh is kept")
    placement: EnumProperty(
        name="Placement", items=placement.PLACEMENTS, default="BESIDE",
        description="Where a new result goes")
    frame_results: BoolProperty(
        name="Frame New Results", default=True,
        description="The 3D viewport moves to show each new result (and a batch's "
        "results when it ends), so a result placed beside the others is never out of view")
    dependency_status: StringProperty(name="Status", default="not checked")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "python_path")
        icon, line, origin = interpreter_text(self.python_path)
        wrap(layout, context, line, icon=icon)
        layout.prop(self, "models_dir")
        row = layout.row()
        row.prop(self, "device")
        row.prop(self, "keep_worker")
        layout.prop(self, "start_ahead")
        layout.prop(self, "texture_storage")
        row = layout.row()
        row.prop(self, "placement")
        row.prop(self, "frame_results")
        row = layout.row()
        row.operator("img2mesh.check_dependencies", icon="CHECKMARK")
        row.operator("img2mesh.release_models", icon="X")
        dependency_check.draw(layout, self, context)
        row = layout.row()
        row.label(text=vendor.status(origin), icon="PACKAGE")
        if vendor.needs_unpack():
            row.operator("img2mesh.unpack_dependencies", icon="IMPORT")
        downloads.draw(layout, self, context)
        if origin == interpreter.FROM_BLENDER:  # a Python of the user's own brings its own
            torch_install.draw(layout)
        warm = worker_client.warm_worker()
        if warm is not None and warm.alive():
            layout.label(text=f"Worker running (pid {warm.pid}, {warm.python})", icon="INFO")
            if worker_ahead.status:
                layout.label(text=f"Started ahead: {worker_ahead.status}")


class IMG2MESH_OT_release_models(bpy.types.Operator):
    """Stop the worker process and free the models it holds in memory"""

    bl_idname = "img2mesh.release_models"
    bl_label = "Release Models"

    def execute(self, context):
        if jobs.running():  # a running job ends as "cancelled", not as a crash
            jobs.current.cancel_requested = True
            jobs.current.tick()
        worker_client.release()
        self.report({"INFO"}, "Img2Mesh worker stopped")
        return {"FINISHED"}


class IMG2MESH_OT_unpack_dependencies(bpy.types.Operator):
    """Unpack the bundled wheels for the worker (a vendored zip installed as a legacy
    add-on; Blender 4.2+ installs an extension's wheels itself).  Otherwise done on first use"""

    bl_idname = "img2mesh.unpack_dependencies"
    bl_label = "Unpack Bundled Dependencies"

    @classmethod
    def poll(cls, context):
        return vendor.needs_unpack()

    def execute(self, context):
        try:
            where = vendor.unpack()
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, f"cannot unpack the bundled wheels: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Img2Mesh dependencies unpacked into {where}")
        return {"FINISHED"}
