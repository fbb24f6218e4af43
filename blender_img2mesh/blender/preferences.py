"""Add-on preferences: worker interpreter, models folder, device, dependency check."""

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from . import (downloads, interpreter, jobs, placement, texture, vendor, worker_ahead,
               worker_client)
from .addon_prefs import ADDON_NAME, get_prefs, python_for

class IMG2MESH_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_NAME

    python_path: StringProperty(
        name="Python Interpreter", subtype="FILE_PATH", default="",
        description="Python with torch, open3d, transformers and rembg installed "
        "(empty: $IMG2MESH_PYTHON, else Blender's own Python)")
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
    dependency_status: StringProperty(name="Status", default="not checked")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "python_path")
        layout.prop(self, "models_dir")
        row = layout.row()
        row.prop(self, "device")
        row.prop(self, "keep_worker")
        layout.prop(self, "start_ahead")
        layout.prop(self, "texture_storage")
        layout.prop(self, "placement")
        row = layout.row()
        row.operator("img2mesh.check_dependencies", icon="CHECKMARK")
        row.operator("img2mesh.release_models", icon="X")
        layout.label(text=self.dependency_status)
        row = layout.row()
        row.label(text=vendor.status(), icon="PACKAGE")
        if vendor.needs_unpack():
            row.operator("img2mesh.unpack_dependencies", icon="IMPORT")
        downloads.draw(layout)
        warm = worker_client.warm_worker()
        if warm is not None and warm.alive():
            layout.label(text=f"Worker running (pid {warm.pid}, {warm.python})", icon="INFO")
            if worker_ahead.status:
                layout.label(text=f"Started ahead: {worker_ahead.status}")


class IMG2MESH_OT_check_dependencies(bpy.types.Operator):
    """Check that the worker's Python can import torch, open3d, transformers and rembg"""

    bl_idname = "img2mesh.check_dependencies"
    bl_label = "Check Dependencies"

    def execute(self, context):
        prefs = get_prefs(context)
        try:
            exe = python_for(prefs)
        except interpreter.InterpreterError as exc:
            ok, status = False, str(exc)
        else:
            ok, status = interpreter.check_dependencies(exe)
            status = f"{exe}: {status}"
        if prefs is not None:
            prefs.dependency_status = ("OK - " if ok else "Missing - ") + status
        self.report({"INFO"} if ok else {"ERROR"}, status)
        return {"FINISHED"} if ok else {"CANCELLED"}


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
