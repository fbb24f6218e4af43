"""Run in a fresh bpy process with its own user folders (BLENDER_USER_RESOURCES): install
an add-on zip as Blender would, enable it, press Generate, print one ``RESULT {json}`` line.

    python install_and_generate.py '{"zip": ..., "mode": "extension"|"legacy",
                                     "generate": {operator kwargs} or null,
                                     "prefs_python": interpreter for the preferences}'
"""

import json
import os
import sys
import time

import bpy  # first: it puts Blender's own modules (addon_utils) on sys.path

import addon_utils  # noqa: E402

HEAVY = ("torch", "open3d", "transformers", "rembg", "onnxruntime", "diffusers")


def install(zip_path, mode):
    if mode == "extension":
        assert bpy.ops.extensions.package_install_files(
            filepath=zip_path, repo="user_default", enable_on_install=True) == {"FINISHED"}
        return "bl_ext.user_default.blender_img2mesh"
    assert bpy.ops.preferences.addon_install(filepath=zip_path) == {"FINISHED"}
    assert addon_utils.enable("blender_img2mesh", default_set=True, handle_error=None)
    return "blender_img2mesh"


def main():
    opts = json.loads(sys.argv[-1])
    assert os.environ.get("BLENDER_USER_RESOURCES"), "run with isolated user folders"
    t0 = time.monotonic()
    module = install(opts["zip"], opts["mode"])
    info = {"module": module, "install_s": round(time.monotonic() - t0, 1),
            "enabled": module in bpy.context.preferences.addons,
            "file": sys.modules[module].__file__}
    from importlib import import_module

    vendor = import_module(module + ".blender.client.vendor")
    interpreter = import_module(module + ".blender.client.interpreter")
    prefs = bpy.context.preferences.addons[module].preferences
    if opts.get("prefs_python"):  # the interpreter set in the add-on's preferences
        prefs.python_path = opts["prefs_python"]
    info["vendor_status"] = vendor.status(interpreter.in_use(prefs.python_path)[1])
    info["site_dirs"] = vendor.site_dirs(unpack_missing=False)
    if opts.get("check"):
        bpy.ops.img2mesh.check_dependencies()
        info["dependency_status"] = prefs.dependency_status
    if opts.get("generate"):
        t0 = time.monotonic()
        info["worker_python"] = interpreter.resolve(prefs.python_path)
        info["worker_pythonpath"] = interpreter.child_env()["PYTHONPATH"].split(os.pathsep)
        info["result"] = sorted(bpy.ops.img2mesh.generate(**opts["generate"]))
        info["generate_s"] = round(time.monotonic() - t0, 1)
        obj = bpy.context.view_layer.objects.active
        attr = obj.data.color_attributes.active_color
        info.update(object=obj.name, vertices=len(obj.data.vertices),
                    faces=len(obj.data.polygons), attr=[attr.name, attr.domain, attr.data_type],
                    dims=list(obj.dimensions))
    info["heavy_in_blender"] = [m for m in HEAVY if m in sys.modules]
    import_module(module + ".blender.client.worker_client").release()
    print("RESULT " + json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
