"""The panel's pickers: the photo in Blender's file browser with the image filter and
thumbnails, starting in the current photo's folder; a folder for a custom depth model."""

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from .text import file_name

#: the file browser's display types, in the order (values) Blender's own operators use
DISPLAY_TYPES = (
    ("DEFAULT", "Default", ""),
    ("LIST_VERTICAL", "Short List", ""),
    ("LIST_HORIZONTAL", "Long List", ""),
    ("THUMBNAIL", "Thumbnails", ""),
)


def _settings(context):
    return context.scene.img2mesh


class IMG2MESH_OT_pick_image(bpy.types.Operator):
    """Choose the photo (Blender's file browser, images only, as thumbnails)"""

    bl_idname = "img2mesh.pick_image"
    bl_label = "Choose Photo"
    bl_options = {"INTERNAL"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    display_type: EnumProperty(items=DISPLAY_TYPES, default="THUMBNAIL",
                               options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def description(cls, context, properties):  # the tooltip: the whole path
        path = getattr(getattr(context, "scene", None), "img2mesh", None)
        path = path.filepath if path is not None else ""
        return f"{cls.__doc__}.\nNow: {bpy.path.abspath(path)}" if path else cls.__doc__

    def invoke(self, context, event):
        current = _settings(context).filepath
        if current:  # the browser opens in the photo's folder, the photo selected
            self.filepath = os.path.abspath(bpy.path.abspath(current))
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        if not self.filepath or os.path.isdir(self.filepath):
            self.report({"ERROR"}, "Img2Mesh: no image file chosen")
            return {"CANCELLED"}
        s = _settings(context)
        s.source, s.filepath = "FILE", self.filepath
        return {"FINISHED"}


class IMG2MESH_OT_pick_model_folder(bpy.types.Operator):
    """Choose a local depth model folder (a transformers model: config.json and
    model.safetensors)"""

    bl_idname = "img2mesh.pick_model_folder"
    bl_label = "Choose Model Folder"
    bl_options = {"INTERNAL"}

    directory: StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})

    def invoke(self, context, event):
        current = _settings(context).depth_model_custom.strip()
        folder = bpy.path.abspath(current) if current else ""
        if folder and os.path.isdir(folder):  # else a hub id: the browser's default place
            self.directory = os.path.join(os.path.abspath(folder), "")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        folder = self.directory.rstrip("/\\")
        if not folder:
            self.report({"ERROR"}, "Img2Mesh: no folder chosen")
            return {"CANCELLED"}
        s = _settings(context)
        s.depth_model, s.depth_model_custom = "CUSTOM", folder
        return {"FINISHED"}


def photo_label(s):
    """The panel's line for the photo: its file name (the path is in the tooltip)."""
    return file_name(s.filepath) or "Choose a Photo..."


CLASSES = (IMG2MESH_OT_pick_image, IMG2MESH_OT_pick_model_folder)
