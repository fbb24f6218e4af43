"""The Views source: several photos of one object -> one whole object (``img2mesh --views``
through the worker).  The photo picker (several files, or a folder), the job's command
line, and what Generate does with its result (the recovered cameras)."""

import os

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, StringProperty

from ..client import batch_jobs, view_cameras
from ..scene import image_source
from ..scene import view_cameras as scene_cameras
from ..ui import properties
from ..ui.pickers import DISPLAY_TYPES


def listed(paths_text):
    """The image files of the ``;``-separated ``paths_text`` (files and folders; relative
    to the .blend when they start with ``//``), in order."""
    return batch_jobs.photos_in([bpy.path.abspath(p)
                                 for p in view_cameras.split_paths(paths_text)])


def photos(paths_text):
    """The photos of the ``;``-separated ``paths_text`` (files and folders), in order;
    ``image_source.SourceError`` when there are fewer than ``MIN_VIEWS``."""
    found = listed(paths_text)
    if len(found) < view_cameras.MIN_VIEWS:
        raise image_source.SourceError(
            f"Views needs at least {view_cameras.MIN_VIEWS} photos of the object from "
            f"around it; {len(found) or 'no'} photo{'s' if len(found) != 1 else ''} chosen: "
            "choose more photos or a folder of them")
    return found


def views_args(s, photo_paths, out_path, prefs=None):
    """Settings -> ``img2mesh --views`` arguments: the photos, the output, the size, the
    background removal (the object's masks) and the machine options."""
    return ["--views", *photo_paths, "-o", out_path, "--size", repr(float(s.size)),
            *properties.segment_args(s), *properties.machine_args(s, prefs)]


def add_result_cameras(context, obj, result, photo_paths):
    """The recovered cameras as scene cameras (:mod:`scene.view_cameras`); returns them."""
    sizes = {}
    for path in photo_paths:  # the photo's own size (its header only)
        image = bpy.data.images.load(path, check_existing=True)
        sizes[os.path.basename(path)] = tuple(image.size)
    cams = view_cameras.from_sidecar(view_cameras.read_cameras(result), photo_paths, sizes)
    return scene_cameras.add_cameras(context, obj, cams)


def label(s):
    """The panel's line for the Views photos: how many, and where."""
    try:
        found = listed(s.views_paths)
    except OSError:
        found = []
    if not found:
        return "Choose Photos..."
    return f"{len(found)} photos in {view_cameras.views_name(found)}"


class IMG2MESH_OT_pick_views(bpy.types.Operator):
    """Choose the photos of the object (several files, or a folder: all its images)"""

    bl_idname = "img2mesh.pick_views"
    bl_label = "Choose Photos"
    bl_options = {"INTERNAL"}

    directory: StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})
    files: CollectionProperty(type=bpy.types.OperatorFileListElement,
                              options={"SKIP_SAVE"})
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    display_type: EnumProperty(items=DISPLAY_TYPES, default="THUMBNAIL",
                               options={"HIDDEN", "SKIP_SAVE"})

    def invoke(self, context, event):
        current = view_cameras.split_paths(context.scene.img2mesh.views_paths)
        if current:
            first = bpy.path.abspath(current[0])
            self.directory = os.path.join(first if os.path.isdir(first)
                                          else os.path.dirname(first), "")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        folder = bpy.path.abspath(self.directory).rstrip("/\\") if self.directory else ""
        names = [f.name for f in self.files if f.name]
        paths = [os.path.join(folder, n) for n in names] if names else [folder] \
            if folder else []
        if not paths:
            self.report({"ERROR"}, "Img2Mesh: no photos chosen")
            return {"CANCELLED"}
        s = context.scene.img2mesh
        s.source, s.views_paths = "VIEWS", ";".join(paths)
        return {"FINISHED"}


CLASSES = (IMG2MESH_OT_pick_views,)
