"""View3D > Sidebar > Img2Mesh: source (file, Blender image or text prompt), main settings,
Advanced, Generate / progress."""

import bpy

from . import jobs, panel_info, properties, worker_ahead
from .progress_ui import draw_progress


class _Base:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Img2Mesh"


class IMG2MESH_PT_main(_Base, bpy.types.Panel):
    bl_label = "Image to Mesh"

    def draw(self, context):
        s = context.scene.img2mesh
        worker_ahead.panel_drawn()  # the first draw: start the worker (a timer, at once)
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(s, "source", expand=True)
        if s.source == "FILE":
            layout.prop(s, "filepath")
        elif s.source == "TEXT":  # the whole width: prompts are long
            row = layout.row()
            row.use_property_split = False
            row.prop(s, "prompt", text="", icon="TEXT")
        else:
            layout.template_ID(s, "image", open="image.open")
        col = layout.column()
        col.prop(s, "remove_background")
        sub = col.column()
        sub.active = s.remove_background and not s.mask_path
        sub.prop(s, "segmenter")
        col.prop(s, "depth_model")
        if s.depth_model == "CUSTOM":
            col.prop(s, "depth_model_custom", text="Model")
        col.prop(s, "back")
        if s.mesher == "poisson" or (s.mesher == "auto" and s.back != "open"):
            col.prop(s, "poisson_depth")
        else:
            col.prop(s, "max_size", text="Detail")
        col.prop(s, "size")
        col.prop(s, "color")
        col.prop(s, "add_camera")
        col.prop(s, "replace_last")
        panel_info.draw_depth(layout, context, s)  # what will really run
        runner = jobs.current
        if runner is not None and not runner.finished:
            draw_progress(layout.column(), runner)
        else:
            row = layout.row()
            row.scale_y = 1.5
            target = properties.last_result(context) if s.replace_last else None
            op = row.operator("img2mesh.generate", icon="MESH_MONKEY", text=(
                f"Update {target.name}" if target is not None else "Generate Mesh"))
            for name, value in properties.operator_settings(s).items():
                setattr(op, name, value)
            panel_info.draw_last_result(layout, context)  # the last run, its warnings


class IMG2MESH_PT_advanced(_Base, bpy.types.Panel):
    bl_label = "Advanced"
    bl_parent_id = "IMG2MESH_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        s = context.scene.img2mesh
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        if s.source == "TEXT":  # the text-to-image settings
            for name in ("seed", "steps", "negative_prompt", "t2i_model"):
                layout.prop(s, name)
            layout.separator()
        for name in ("mask_path", "depth_map_path", "depth_model_custom", "mesher",
                     "poisson_depth", "max_size", "fov", "thickness", "target_faces",
                     "texture_size", "frame", "device", "models_dir", "offline"):
            layout.prop(s, name)


class IMG2MESH_PT_batch(_Base, bpy.types.Panel):
    """Many photos: a folder (or several files picked in the file browser), the settings
    above, one object per photo in a new collection."""

    bl_label = "Batch"
    bl_parent_id = "IMG2MESH_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        s = context.scene.img2mesh
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(s, "batch_folder")
        if jobs.running():
            return  # the progress ("7 / 20") and Cancel are drawn above
        row = layout.row(align=True)
        settings = properties.operator_settings(s)
        op = row.operator("img2mesh.batch", text="Folder", icon="FILE_FOLDER")
        for name in properties.SETTING_NAMES:
            setattr(op, name, settings[name])
        op.directory = s.batch_folder
        row.active = bool(s.batch_folder)
        op = layout.operator("img2mesh.batch", text="Choose Files...", icon="FILEBROWSER")
        for name in properties.SETTING_NAMES:
            setattr(op, name, settings[name])
