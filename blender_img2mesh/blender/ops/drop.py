"""Drop a photo onto the 3D viewport: Blender 4.1+ offers "Image to Mesh" (a
``FileHandler``), which runs Generate with the panel's settings on that file.  Older
Blenders have no file handlers: only the operator is registered, nothing else changes."""

import os

import bpy
from bpy.props import CollectionProperty, StringProperty

from ..client import batch_jobs, jobs
from ..ui import properties


class IMG2MESH_OT_drop_image(bpy.types.Operator):
    """Turn the dropped image file into a colored 3D mesh, with the panel's settings"""

    bl_idname = "img2mesh.drop_image"
    bl_label = "Image to Mesh"
    bl_options = {"INTERNAL"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    # what Blender passes when several files are dropped (the first one is used)
    directory: StringProperty(subtype="DIR_PATH", options={"SKIP_SAVE"})
    files: CollectionProperty(type=bpy.types.OperatorFileListElement,
                              options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return not jobs.running()

    def _path(self):
        if self.filepath:
            return self.filepath
        if self.directory and len(self.files):
            return os.path.join(self.directory, self.files[0].name)
        return ""

    def _run(self, context, how):
        path = self._path()
        if not path:
            self.report({"ERROR"}, "Img2Mesh: no image file was dropped")
            return {"CANCELLED"}
        s = context.scene.img2mesh
        s.source, s.filepath = "FILE", path  # the panel shows which photo runs
        kwargs = properties.operator_settings(s)
        try:
            result = bpy.ops.img2mesh.generate(how, **kwargs)
        except RuntimeError as exc:  # the generate operator reported an error
            self.report({"ERROR"}, str(exc).strip())
            return {"CANCELLED"}
        # Generate runs on (modal) by itself: this operator is done either way
        return {"FINISHED"} if result & {"FINISHED", "RUNNING_MODAL"} else {"CANCELLED"}

    def invoke(self, context, event):
        windowed = not bpy.app.background and context.window is not None
        return self._run(context, "INVOKE_DEFAULT" if windowed else "EXEC_DEFAULT")

    def execute(self, context):
        return self._run(context, "EXEC_DEFAULT")


CLASSES = [IMG2MESH_OT_drop_image]

if hasattr(bpy.types, "FileHandler"):  # Blender 4.1+
    class IMG2MESH_FH_image(bpy.types.FileHandler):
        bl_idname = "IMG2MESH_FH_image"
        bl_label = "Image to Mesh"
        bl_import_operator = "img2mesh.drop_image"
        bl_file_extensions = ";".join(batch_jobs.PHOTO_EXTENSIONS)

        @classmethod
        def poll_drop(cls, context):
            area = getattr(context, "area", None)
            return area is not None and area.type == "VIEW_3D"

    CLASSES.append(IMG2MESH_FH_image)
