"""Run in a fresh bpy process with its own user folders (BLENDER_USER_RESOURCES): install
an add-on zip as Blender would, enable it, press Generate, print one ``RESULT {json}`` line.

    python install_and_generate.py '{"zip": ..., "mode": "extension"|"legacy",
                                     "generate": {operator kwargs} or null,
                                     "prefs_python": interpreter for the preferences,
                                     "then": [{"generate": {kwargs}, "online": bool}, ...]}'

``then``: more Generates in the same session after the first (``online``: Blender's Online
Access for it); each adds to ``info["then"]`` the operator's result, the object and the
worker's result event (``worker_result``) with its sidecar's contents (``sidecar``).
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


def keep_results(module):
    """The worker's result event and sidecar of every Generate, kept before the runner
    deletes its temp folder."""
    from importlib import import_module

    jobs = import_module(module + ".blender.client.jobs")
    kept, cleanup = [], jobs.Runner.cleanup

    def cleanup_kept(self):
        result = dict(self.result or {})
        if result.get("sidecar") and os.path.isfile(result["sidecar"]):
            with open(result["sidecar"], encoding="utf-8") as f:
                result["sidecar_data"] = json.load(f)
        kept.append(result)
        return cleanup(self)

    jobs.Runner.cleanup = cleanup_kept
    return kept


def generate(kwargs, kept):
    t0 = time.monotonic()
    out = {"result": sorted(bpy.ops.img2mesh.generate(**kwargs))}
    out["generate_s"] = round(time.monotonic() - t0, 1)
    obj = bpy.context.view_layer.objects.active
    attr = obj.data.color_attributes.active_color
    out.update(object=obj.name, vertices=len(obj.data.vertices), faces=len(obj.data.polygons),
               attr=[attr.name, attr.domain, attr.data_type], dims=list(obj.dimensions),
               depth_model_prop=obj.get("img2mesh_depth_model"))
    worker_result = kept[-1] if kept else {}
    out["sidecar"] = worker_result.pop("sidecar_data", None)
    out["worker_result"] = worker_result
    return out


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
    kept = keep_results(module)
    if opts.get("generate"):
        info["worker_python"] = interpreter.resolve(prefs.python_path)
        info["worker_pythonpath"] = interpreter.child_env()["PYTHONPATH"].split(os.pathsep)
        run = generate(opts["generate"], kept)
        info.update({k: run[k] for k in ("result", "generate_s", "object", "vertices", "faces",
                                         "attr", "dims")})
    info["then"] = []
    for more in opts.get("then", []):
        bpy.context.preferences.system.use_online_access = bool(more.get("online"))
        run = generate(more["generate"], kept)
        run["online_access"] = bpy.app.online_access
        info["then"].append(run)
    info["heavy_in_blender"] = [m for m in HEAVY if m in sys.modules]
    import_module(module + ".blender.client.worker_client").release()
    print("RESULT " + json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
