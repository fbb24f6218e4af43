"""``img2mesh.generate`` (modal with a timer; synchronous in background mode or when run
as ``bpy.ops.img2mesh.generate(filepath=...)``) and ``img2mesh.cancel``."""

import shutil

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ..addon_prefs import get_prefs, python_for
from ..client import interpreter, jobs, view_cameras
from ..scene import image_source, mesh_import, placement
from ..ui import panel_info, properties
from ..ui import text as ui_text
from . import views as views_source
from .runner import RunnerOperator

#: where an error's whole text is (its popup has the first sentence)
PANEL_AND_LOG = "the Img2Mesh panel and the Info log"


class IMG2MESH_OT_generate(RunnerOperator, properties.SettingsMixin, bpy.types.Operator):
    """Turn a photo or a text prompt into a colored 3D mesh"""

    bl_idname = "img2mesh.generate"
    bl_label = "Generate Mesh"
    # Undo, but no redo panel: Blender's redo calls execute(), which would run the whole
    # job again with Blender frozen.  Re-meshing is Generate with *Replace Last Result*:
    # modal, and the warm worker reuses the photo's mask and depth
    bl_options = {"UNDO"}

    filepath: StringProperty(name="Image", subtype="FILE_PATH", default="",
                             description="The photo to turn into a mesh")
    image_name: StringProperty(name="Blender Image", default="",
                               description="Name of an image loaded in Blender (instead of "
                               "a file)")
    views: StringProperty(name="Photos", default="",
                          description="Views: the photos of one object (or folders of "
                          "them), separated by ';'")
    source: EnumProperty(name="Source", default="AUTO", items=(
        ("AUTO", "Auto", "The image file, else the Blender image, whichever is given"),
        *properties.SOURCES))
    replace_last: BoolProperty(
        name="Replace Last Result", default=False, options={"SKIP_SAVE"},
        description="Update the scene's last result (mesh, material, camera) in place "
        "instead of adding an object")

    @classmethod
    def poll(cls, context):
        if jobs.running():
            if hasattr(cls, "poll_message_set"):  # 3.0+
                cls.poll_message_set("a mesh is being generated")
            return False
        return True

    # -- setup -------------------------------------------------------------------------
    def _make_runner(self, context):
        text = self.source == "TEXT"
        self._views = None
        if self.source == "VIEWS":
            return self._views_runner(context)
        if not (text or self.filepath or self.image_name):
            raise image_source.SourceError("no image given: choose an image file or a "
                                           "Blender image")
        prefs = get_prefs(context)
        python = python_for(prefs)
        temp_dir = jobs.new_temp_dir()
        try:
            if text:  # the worker generates the picture (saved beside the mesh)
                src = None
                self._name = self.prompt.strip()[:60] or "Img2Mesh"
                title = self._name
            elif self.source == "IMAGE" or (self.source == "AUTO" and self.image_name):
                if not self.image_name:
                    raise image_source.SourceError("no Blender image chosen")
                image = bpy.data.images.get(self.image_name)
                if image is None:
                    raise image_source.SourceError(f"no image named '{self.image_name}'")
                src = image_source.from_image(image, temp_dir)
                self._name = mesh_import.object_name(self.image_name)
                title = self.image_name
            else:
                src = image_source.from_file(self.filepath)
                self._name = mesh_import.object_name(src)
                title = ui_text.file_name(src)
            out = f"{temp_dir}/{image_source.safe_stem(self._name)}.ply"
            args = properties.cli_args(self, src, out, prefs)
        except Exception:
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        keep = getattr(prefs, "keep_worker", True) if prefs else True
        return jobs.Runner(python, args, temp_dir, keep_worker=keep, title=title)

    def _views_runner(self, context):
        """Several photos of one object: one ``--views`` job."""
        self._views = views_source.photos(self.views)
        prefs = get_prefs(context)
        python = python_for(prefs)
        self._name = view_cameras.views_name(self._views)
        temp_dir = jobs.new_temp_dir()
        args = views_source.views_args(self, self._views, f"{temp_dir}/views.ply", prefs)
        keep = getattr(prefs, "keep_worker", True) if prefs else True
        return jobs.Runner(python, args, temp_dir, keep_worker=keep,
                           title=f"{len(self._views)} photos of {self._name}")

    def _start(self, context):
        try:
            self._runner = self._make_runner(context).start()
        except (image_source.SourceError, interpreter.InterpreterError, ValueError,
                OSError) as exc:
            panel_info.record_error(str(exc))
            ui_text.report_error(self, str(exc), PANEL_AND_LOG)
            return False
        return True

    # -- finishing ---------------------------------------------------------------------
    def _finish(self, context):
        runner = self._runner
        try:
            if runner.error:
                if runner.error != "cancelled":
                    panel_info.record_error(runner.error)
                    ui_text.report_error(self, runner.error, PANEL_AND_LOG)
                else:
                    panel_info.record_cancelled()
                    self.report({"WARNING"}, "Img2Mesh: cancelled")
                return {"CANCELLED"}
            path = runner.mesh_path()
            if path is None:
                panel_info.record_error("the worker reported no mesh file")
                self.report({"ERROR"}, "Img2Mesh: the worker reported no mesh file")
                return {"CANCELLED"}
            prefs, notes = get_prefs(context), []
            try:
                obj = mesh_import.import_result(
                    context, path, self._name, runner.result,
                    add_camera=self.add_camera and not self._views,
                    color=self.color, warnings=notes,
                    texture_storage=getattr(prefs, "texture_storage", "PACK"),
                    placement=getattr(prefs, "placement", "BESIDE"),
                    replace=properties.last_result(context) if self.replace_last else None)
                image_source.keep_generated_image(runner.result, obj.name)
                properties.set_last_result(context, obj)
                if self._views and self.view_cameras:
                    views_source.add_result_cameras(context, obj, runner.result, self._views)
            except (ValueError, OSError, RuntimeError) as exc:
                panel_info.record_error(f"cannot import {path}: {exc}")
                ui_text.report_error(self, f"cannot import {path}: {exc}", PANEL_AND_LOG)
                return {"CANCELLED"}
            panel_info.record(obj, runner, notes)
            if getattr(prefs, "frame_results", True):
                placement.frame(context, [obj])  # in a window; headless: nothing
            for warning in runner.warnings + notes:
                self.report({"WARNING"}, f"Img2Mesh: {warning}")
            self.report({"INFO"}, f"Img2Mesh: {obj.name}: {len(obj.data.vertices)} vertices, "
                        f"{len(obj.data.polygons)} faces in {runner.seconds:.1f} s")
            return {"FINISHED"}
        finally:
            runner.cleanup()

    # -- entry points (invoke/modal/cancel: runner_ops.RunnerOperator) ------------------
    def execute(self, context):
        if not self._start(context):
            return {"CANCELLED"}
        if bpy.app.background:
            last = [None]

            def show(event):  # a line per stage on the console
                if event["event"] == "progress" and event.get("stage") != last[0]:
                    last[0] = event.get("stage")
                    print(f"img2mesh: {event['fraction'] * 100:3.0f}% {event.get('message')}",
                          flush=True)
            self._runner.wait(show)
        else:
            self._runner.wait()
        return self._finish(context)


class IMG2MESH_OT_cancel(bpy.types.Operator):
    """Stop the running generation (kills the worker process)"""

    bl_idname = "img2mesh.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        return jobs.running()

    def execute(self, context):
        if jobs.current is not None:
            jobs.current.cancel_requested = True
        return {"FINISHED"}
