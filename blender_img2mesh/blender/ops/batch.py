"""``img2mesh.batch``: many photos (a folder, or several files picked at once) -> one
object per photo in a new collection, placed as Generate places a result (beside
everything already in the scene, each beside the one before); progress "7 / 20" in the
panel; Cancel (or Esc) keeps the finished ones; the result box says what happened.
Runs through the warm worker."""

import os

import bpy
from bpy.props import CollectionProperty, StringProperty

from ..addon_prefs import get_prefs, python_for
from ..client import batch_jobs, interpreter, jobs
from ..scene import mesh_import, placement
from ..ui import panel_info, properties
from ..ui import text as ui_text
from .runner import RunnerOperator


class IMG2MESH_OT_batch(RunnerOperator, properties.SettingsMixin, bpy.types.Operator):
    """Turn every photo of a folder (or the files chosen) into a mesh, side by side in a
    new collection"""

    bl_idname = "img2mesh.batch"
    bl_label = "Generate Batch"
    bl_options = {"UNDO"}  # no redo panel: a redo would re-run the batch, Blender frozen

    directory: StringProperty(name="Folder", subtype="DIR_PATH", default="",
                              description="Folder of photos (all its image files)")
    files: CollectionProperty(type=bpy.types.OperatorFileListElement,
                              description="Files chosen in that folder (empty: all)")
    paths: StringProperty(name="Paths", default="",
                          description="Photo or folder paths separated by ';' (scripts)")

    @classmethod
    def poll(cls, context):
        return not jobs.running()

    def _photos(self):
        if self.paths:
            items = [p for p in self.paths.split(";") if p.strip()]
        elif self.files and any(f.name for f in self.files):
            items = [os.path.join(bpy.path.abspath(self.directory), f.name)
                     for f in self.files if f.name]
        else:
            items = [bpy.path.abspath(self.directory)] if self.directory else []
        return batch_jobs.photos_in(items)

    def _refuse(self, text):
        panel_info.record_error(text)
        ui_text.report_error(self, text, "the Img2Mesh panel and the Info log")
        return False

    def _start(self, context):
        photos = self._photos()
        if not photos:
            return self._refuse("no photos: choose a folder of images or several image "
                                "files")
        prefs = get_prefs(context)
        try:
            python = python_for(prefs)
        except interpreter.InterpreterError as exc:
            return self._refuse(str(exc))
        coll = bpy.data.collections.new("Img2Mesh Batch")
        context.scene.collection.children.link(coll)
        self._collection, self._objects = coll.name, []
        storage = getattr(prefs, "texture_storage", "PACK")
        where = getattr(prefs, "placement", "BESIDE")
        self._frame = getattr(prefs, "frame_results", True)

        def make_args(photo, temp_dir):
            stem = "".join(c if c.isalnum() or c in "-_" else "_"
                           for c in os.path.splitext(os.path.basename(photo))[0]) or "photo"
            return properties.cli_args(self, photo, f"{temp_dir}/{stem}.ply", prefs)

        def on_done(photo, runner):
            path = runner.mesh_path()
            if path is None:
                raise ValueError("the worker reported no mesh file")
            notes = []
            # beside everything (BESIDE), or from the 3D cursor on, each beside the
            # batch's earlier results (CURSOR)
            earlier = [bpy.data.objects[n] for n in self._objects if n in bpy.data.objects]
            obj = mesh_import.import_result(
                context, path, mesh_import.object_name(photo), runner.result,
                color=self.color, texture_storage=storage, warnings=notes,
                placement="BESIDE" if where == "BESIDE" or earlier else "CURSOR",
                among=None if where == "BESIDE" else earlier)
            for c in list(obj.users_collection):
                c.objects.unlink(obj)
            bpy.data.collections[self._collection].objects.link(obj)
            obj["img2mesh_source"] = photo
            self._objects.append(obj.name)
            runner.warnings += notes
            if self._frame:
                placement.frame(context, [obj])

        keep = getattr(prefs, "keep_worker", True) if prefs else True
        self._runner = batch_jobs.BatchRunner(python, photos, make_args, on_done,
                                              keep_worker=keep).start()
        return True

    def _finish(self, context):
        runner = self._runner
        runner.cleanup()
        for photo, error in runner.failed:
            self.report({"WARNING"}, f"Img2Mesh: {os.path.basename(photo)} failed: {error}")
        for warning in runner.warnings:
            self.report({"WARNING"}, f"Img2Mesh: {warning}")
        done, total = len(runner.done), len(runner.photos)
        if runner.error == "cancelled":
            panel_info.record_batch(runner, self._collection, cancelled=True)
            self.report({"WARNING"}, f"Img2Mesh: batch cancelled: {done} of {total} kept")
        elif runner.error:
            panel_info.record_error(runner.error)
            self.report({"ERROR"}, f"Img2Mesh: {runner.error}")
        else:
            panel_info.record_batch(runner, self._collection)
            self.report({"INFO"}, f"Img2Mesh: batch: {done} of {total} photos in "
                        f"'{self._collection}' in {runner.seconds:.1f} s")
        if self._frame:  # the whole batch in view, selected
            placement.frame(context, [bpy.data.objects[n] for n in self._objects
                                      if n in bpy.data.objects])
        return {"FINISHED"} if done else {"CANCELLED"}

    def invoke(self, context, event):
        if not (self.directory or self.paths or len(self.files)):
            self._browsing = True
            context.window_manager.fileselect_add(self)  # then execute()
            return {"RUNNING_MODAL"}
        return super().invoke(context, event)

    def execute(self, context):
        if getattr(self, "_browsing", False):  # files chosen: run modally from here
            self._browsing = False
            return super().invoke(context, None)
        if not self._start(context):
            return {"CANCELLED"}

        def show(event):  # a line per photo on the console
            if event["event"] == "result":
                print(f"img2mesh: {self._runner.label.split(':')[0]} "
                      f"{os.path.basename(event.get('mesh', ''))}", flush=True)
        self._runner.wait(show if bpy.app.background else None)
        return self._finish(context)
