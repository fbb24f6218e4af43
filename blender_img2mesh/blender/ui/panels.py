"""View3D > Sidebar > Img2Mesh: source (file, Blender image or text prompt), main settings,
Advanced, Generate / progress."""

import bpy

from ..addon_prefs import get_prefs
from ..client import interpreter, jobs
from ..ops import torch_install, views, worker_ahead
from . import panel_info, pickers, properties
from .messages import Message, draw_message
from .progress import draw_progress


class _Base:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Img2Mesh"


def split(layout):
    """``layout`` with labels left of their fields and no animation decorators."""
    layout.use_property_split = True
    layout.use_property_decorate = False
    return layout


def uses_poisson(s):
    """Whether the settings ``s`` make a Poisson surface (where *Surface Detail* counts)."""
    return s.mesher == "poisson" or (s.mesher == "auto" and s.back != "open")


def draw_source(layout, s):
    """File / Image / Text, then the photo's file name (a button opening the image
    browser; the whole path in its tooltip and under Advanced), the image or the prompt."""
    row = layout.row()
    row.use_property_split = False
    row.prop(s, "source", expand=True)
    if s.source == "FILE":
        layout.operator("img2mesh.pick_image", text=pickers.photo_label(s), icon="FILE_IMAGE")
    elif s.source == "VIEWS":  # several photos (or a folder) of one object
        layout.operator("img2mesh.pick_views", text=views.label(s), icon="FILE_FOLDER")
    elif s.source == "TEXT":  # the whole width: prompts are long
        row = layout.row()
        row.use_property_split = False
        prefs = get_prefs()
        origin = interpreter.in_use(getattr(prefs, "python_path", "") if prefs else "")[1]
        if not torch_install.available(origin):  # greyed out, and why
            row.enabled = False
            layout.label(text="The text prompt needs PyTorch, not installed:", icon="INFO")
            layout.label(text="Preferences > Add-ons > Img2Mesh > Install PyTorch")
        row.prop(s, "prompt", text="", icon="TEXT")
    else:
        layout.template_ID(s, "image", open="image.open")


def draw_custom_model(layout, s, text):
    """The custom depth model: a hub id or a folder typed in, or a folder picked."""
    row = layout.row(align=True)
    row.prop(s, "depth_model_custom", text=text)
    row.operator("img2mesh.pick_model_folder", text="", icon="FILE_FOLDER")


def draw_detail(layout, s):
    """The two settings "Detail" used to hide: *Resolution* (px, the working image: the
    open surface's grid) and, for a closed surface, *Surface Detail* (Poisson's octree
    depth).  Full-width fields, their names inside: they fit the default sidebar."""
    col = layout.column(align=True)
    col.use_property_split = False
    col.prop(s, "max_size")
    if uses_poisson(s):
        col.prop(s, "poisson_depth")


def draw_photo_settings(layout, context, s):
    """One photo (or a prompt): background removal, depth (and the line saying what will
    really run), back, detail, size, color, camera, replace."""
    col = layout.column(heading="Background")  # short labels: the sidebar is narrow
    col.prop(s, "remove_background", text="Remove")
    sub = col.column()
    sub.active = s.remove_background and not s.mask_path
    sub.prop(s, "segmenter", text="Model")
    col = layout.column()
    col.prop(s, "depth_model")
    if s.depth_model == "CUSTOM":
        draw_custom_model(col, s, "Model")
    panel_info.draw_depth(col, context, s)  # what will really run (one line)
    col.prop(s, "back")
    draw_detail(layout, s)
    col = layout.column()
    col.prop(s, "size")
    col.prop(s, "color")
    col.column(heading="Camera").prop(s, "add_camera", text="Add")
    col.column(heading="Result").prop(s, "replace_last", text="Replace Last")


def draw_views_settings(layout, s):
    """Several photos of one object: the masks' model, size, color, the cameras, replace
    (depth, back and detail are the method's own: the photos give the whole shape)."""
    col = layout.column(heading="Background")
    col.prop(s, "remove_background", text="Remove")
    sub = col.column()
    sub.active = s.remove_background
    sub.prop(s, "segmenter", text="Model")
    col = layout.column()
    col.prop(s, "size")
    col.prop(s, "color")
    col.column(heading="Cameras").prop(s, "view_cameras", text="Add")
    col.column(heading="Result").prop(s, "replace_last", text="Replace Last")


class IMG2MESH_PT_main(_Base, bpy.types.Panel):
    bl_label = "Image to Mesh"

    def draw(self, context):
        s = context.scene.img2mesh
        worker_ahead.panel_drawn()  # the first draw: start the worker (a timer, at once)
        layout = split(self.layout)
        draw_source(layout, s)
        if s.source == "VIEWS":
            draw_views_settings(layout, s)
        else:
            draw_photo_settings(layout, context, s)
        runner = jobs.current
        if runner is not None and not runner.finished:
            draw_progress(layout.column(), runner, context)
        else:
            blocker = panel_info.generate_blocker(s, context)
            row = layout.row()
            row.scale_y = 1.5
            row.enabled = blocker is None  # only when it can work; the reason under it
            target = properties.last_result(context) if s.replace_last else None
            op = row.operator("img2mesh.generate", icon="MESH_MONKEY", text=(
                f"Update {target.name}" if target is not None else "Generate Mesh"))
            for name, value in properties.operator_settings(s).items():
                setattr(op, name, value)
            if blocker is not None:
                draw_message(layout, context, "generate_off", blocker)
            panel_info.draw_last_result(layout, context)  # what the last action did


#: Advanced: (property, the short label that fits the default sidebar width)
#: (Resolution and Surface Detail are above, where they count)
ADVANCED = (("mask_path", "Mask"), ("depth_map_path", "Depth Map"), ("mesher", "Surface"),
            ("fov", "FOV"), ("thickness", "Thickness"),
            ("target_faces", "Faces"), ("texture_size", "Texture"), ("frame", "Frame"),
            ("device", "Device"), ("models_dir", "Models"))
#: what an automatic field says while its toggle is off
AUTO = "Auto"


def draw_field(layout, s, name, text):
    """A field; an automatic-by-default one (``properties.AUTO_FIELDS``) as its toggle
    and, when on, its value (limits: the worker's), else the word "Auto"."""
    if name not in properties.AUTO_FIELDS:
        layout.prop(s, name, text=text)
        return
    row = layout.row(align=True, heading=text)
    row.prop(s, "use_" + name, text="")
    if getattr(s, "use_" + name):
        row.prop(s, name, text="")
    else:
        row.label(text=AUTO)


class IMG2MESH_PT_advanced(_Base, bpy.types.Panel):
    bl_label = "Advanced"
    bl_parent_id = "IMG2MESH_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        s = context.scene.img2mesh
        layout = split(self.layout)
        if s.source == "TEXT":  # the text-to-image settings
            for name, text in (("seed", "Seed"), ("steps", "Steps"),
                               ("negative_prompt", "Negative"), ("t2i_model", "Model")):
                draw_field(layout, s, name, text)
            layout.separator()
        elif s.source == "FILE":  # the whole path (typed or pasted; the panel shows the name)
            layout.prop(s, "filepath", text="Path")
        elif s.source == "VIEWS":  # the photos and folders, typed or pasted (';' between)
            layout.prop(s, "views_paths", text="Photos")
        for name, text in ADVANCED:
            draw_field(layout, s, name, text)
        layout.column(heading="Network").prop(s, "offline", text="Offline")


class IMG2MESH_PT_batch(_Base, bpy.types.Panel):
    """Many photos: a folder (or several files picked in the file browser), the settings
    above, one object per photo in a new collection."""

    bl_label = "Batch"
    bl_parent_id = "IMG2MESH_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        s = context.scene.img2mesh
        layout = split(self.layout)
        layout.prop(s, "batch_folder", text="Folder")  # "Photos Folder" is cut
        if jobs.running():
            return  # the progress ("7 / 20") and Cancel are drawn above
        blocker = panel_info.generate_blocker(s, context, photo=False)
        settings = properties.operator_settings(s)
        col = layout.column()
        col.enabled = blocker is None
        row = col.row(align=True)
        row.enabled = bool(s.batch_folder.strip())
        op = row.operator("img2mesh.batch", text="Run on Folder", icon="FILE_FOLDER")
        for name in properties.SETTING_NAMES:
            setattr(op, name, settings[name])
        op.directory = s.batch_folder
        op = col.operator("img2mesh.batch", text="Choose Files...", icon="FILEBROWSER")
        for name in properties.SETTING_NAMES:
            setattr(op, name, settings[name])
        if blocker is not None:
            draw_message(layout, context, "batch_off", blocker)
        elif not s.batch_folder.strip():
            draw_message(layout, context, "batch_folder_off", Message(
                "INFO", ("No folder: choose one, or files", "No folder chosen")))
