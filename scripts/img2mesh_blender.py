"""Headless Blender: photo (or text prompt) -> textured, colored mesh object -> .blend
(and .glb/.ply/.obj, with the texture).

    blender -b -P scripts/img2mesh_blender.py -- INPUT|--prompt TEXT [pipeline options]
            [--save OUT.blend] [--export OUT.glb|OUT.ply|OUT.obj] [--camera]
    blender -b -P scripts/img2mesh_blender.py -- PHOTO PHOTO ...|FOLDER [options]
            [--save OUT.blend]        (a batch: one object per photo, side by side)

Enables the add-on from this checkout (the repo root goes on sys.path; no install
needed) and runs ``bpy.ops.img2mesh.generate`` synchronously.  The worker's Python is
$IMG2MESH_PYTHON, else Blender's own.  Exit code 0 on success, 1 on failure.
"""

import argparse
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import bpy  # noqa: E402

import blender_img2mesh  # noqa: E402
from blender_img2mesh.blender.scene import material  # noqa: E402


def parse(argv):
    p = argparse.ArgumentParser(prog="blender -b -P img2mesh_blender.py --",
                                description="Photo -> colored mesh in Blender.")
    p.add_argument("input", nargs="*", help="the photo (or give --prompt); several photos or "
                   "a folder: a batch, one object per photo in a new collection")
    p.add_argument("--prompt", help="generate the picture from this text (Text source)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=0, help="0: the model's default")
    p.add_argument("--t2i-model", default="", help="empty: sd-turbo")
    p.add_argument("--save", metavar="OUT.blend", help="save the scene as this .blend")
    p.add_argument("--export", metavar="FILE", help="export the object: .glb, .gltf, .ply, .obj")
    p.add_argument("--camera", action="store_true", help="add a camera matching the photo")
    p.add_argument("--clear", action="store_true", help="start from an empty scene")
    p.add_argument("--segmenter", default="u2netp")
    p.add_argument("--keep-background", action="store_true")
    p.add_argument("--mask")
    p.add_argument("--depth-model", default="auto")
    p.add_argument("--depth-map")
    p.add_argument("--fov", type=float, default=0.0)
    p.add_argument("--thickness", type=float, default=0.0)
    p.add_argument("--mesher", choices=("auto", "grid", "poisson"), default="auto")
    p.add_argument("--poisson-depth", type=int, default=8)
    p.add_argument("--back", choices=("open", "flat", "mirror"), default="open")
    p.add_argument("--target-faces", type=int, default=0)
    p.add_argument("--size", type=float, default=2.0)
    p.add_argument("--frame", choices=("blender", "camera"), default="blender")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--models-dir", default="")
    p.add_argument("--offline", action="store_true")
    p.add_argument("--max-size", type=int, default=512)
    p.add_argument("--color", choices=("texture", "vertex"), default="texture",
                   help="what the material shows (both are kept in the mesh)")
    p.add_argument("--texture-size", type=int, default=0, help="0: the photo's own")
    a = p.parse_args(argv)
    if bool(a.input) == (a.prompt is not None):
        p.error("give either INPUT or --prompt TEXT")
    a.batch = len(a.input) > 1 or any(os.path.isdir(i) for i in a.input)
    if a.batch and (a.export or a.camera or a.mask or a.depth_map):
        p.error("--export, --camera, --mask and --depth-map are for one photo: a batch "
                "is saved with --save")
    a.input = a.input[0] if len(a.input) == 1 and not a.batch else a.input
    return a


def operator_kwargs(a):
    depth_ids = {item[0] for item in blender_img2mesh.blender.ui.properties.DEPTH_MODELS}
    kw = dict(segmenter=a.segmenter,
              remove_background=not a.keep_background, mask_path=a.mask or "",
              depth_map_path=a.depth_map or "",
              mesher=a.mesher, poisson_depth=a.poisson_depth, back=a.back, size=a.size,
              frame=a.frame, device=a.device, models_dir=a.models_dir,
              offline=a.offline, max_size=a.max_size, add_camera=a.camera,
              color=a.color.upper())
    for name in ("fov", "thickness", "target_faces", "texture_size", "steps"):
        if getattr(a, name) > 0:  # 0: automatic (the toggle off)
            kw.update({name: getattr(a, name), "use_" + name: True})
    if a.prompt is not None:
        kw.update(source="TEXT", prompt=a.prompt, seed=a.seed, t2i_model=a.t2i_model)
    else:
        kw.pop("steps", None)
        kw.pop("use_steps", None)
        if a.batch:
            kw["paths"] = ";".join(os.path.abspath(i) for i in a.input)
            del kw["add_camera"]
        else:
            kw.update(source="FILE", filepath=os.path.abspath(a.input))
    if a.depth_model in depth_ids and a.depth_model != "CUSTOM":
        kw["depth_model"] = a.depth_model
    else:
        kw.update(depth_model="CUSTOM", depth_model_custom=a.depth_model)
    return kw


def texture_image(obj):
    """The image of the object's Img2Mesh texture node, or None."""
    mat = obj.active_material
    node = mat.node_tree.nodes.get(material.TEXTURE_NODE) if mat and mat.node_tree else None
    return node.image if node is not None else None


def save_texture(image, path):
    """Write ``image`` (packed or linked) as the file ``path``, bytes as they are."""
    if image.packed_file is not None:
        with open(path, "wb") as f:
            f.write(image.packed_file.data)
    else:
        shutil.copyfile(bpy.path.abspath(image.filepath), path)


def _has_option(op, name):
    return name in op.get_rna_type().properties.keys()


def export(path, obj):
    """Export the selected ``obj``; its texture goes into the .glb, or beside a .obj
    (named by the .mtl's ``map_Kd``) or a .ply (``comment TextureFile``, MeshLab's way)."""
    ext = os.path.splitext(path)[1].lower()
    path = os.path.abspath(path)
    image = texture_image(obj)
    texture = None
    if image is not None and ext in (".obj", ".ply"):
        stem = os.path.splitext(path)[0]
        texture = stem + "_texture" + (os.path.splitext(image.filepath)[1].lower() or ".png")
        save_texture(image, texture)
    if ext in (".glb", ".gltf"):
        fmt = "GLB" if ext == ".glb" else "GLTF_SEPARATE"
        # glTF multiplies Base Color by COLOR_0: vertex colors only when the material
        # shows them (Blender 4.2+ writes a white COLOR_0 for "all colors", 3.x the colors)
        vertex = material.color_source(obj.active_material) != "TEXTURE"
        op, kw = bpy.ops.export_scene.gltf, {}
        for name in ("export_all_vertex_colors", "export_colors"):
            if _has_option(op, name):
                kw[name] = vertex
                break
        op(filepath=path, export_format=fmt, use_selection=True, **kw)
    elif ext == ".ply":
        if bpy.app.version >= (3, 6, 0):  # the C++ exporter (hasattr is always True)
            bpy.ops.wm.ply_export(filepath=path, export_selected_objects=True,
                                  export_colors="SRGB", export_uv=True)
        else:
            bpy.ops.export_mesh.ply(filepath=path, use_selection=True, use_colors=True,
                                    use_uv_coords=True)
        if texture:
            name_texture_in_ply(path, os.path.basename(texture))
    elif ext == ".obj":
        kw = {"export_colors": True} if _has_option(bpy.ops.wm.obj_export, "export_colors") \
            else {}
        old = image.filepath_raw if texture else None
        if texture:  # the .mtl names the copy written beside the .obj
            image.filepath_raw = texture
        try:
            bpy.ops.wm.obj_export(filepath=path, export_selected_objects=True,
                                  path_mode="STRIP", **kw)
        finally:
            if texture:
                image.filepath_raw = old
    else:
        raise SystemExit(f"error: cannot export to {ext or path}: use .glb, .gltf, .ply or .obj")
    print(f"img2mesh: exported {path}" + (f" and {texture}" if texture else ""), flush=True)


def name_texture_in_ply(path, name):
    """Add ``comment TextureFile NAME`` to the PLY's (ASCII) header."""
    with open(path, "rb") as f:
        data = f.read()
    first = data.index(b"\n", data.index(b"\nformat ") + 1) + 1  # after the format line
    with open(path, "wb") as f:
        f.write(data[:first] + f"comment TextureFile {name}\n".encode() + data[first:])


def _batch_done(a):
    """Print the batch's objects (in their collection), save; 1 when a photo failed."""
    coll = [c for c in bpy.data.collections if c.name.startswith("Img2Mesh Batch")][-1]
    for obj in coll.objects:
        print(f"img2mesh: {obj.name}: {len(obj.data.vertices)} vertices at x = "
              f"{obj.location.x:.2f}", flush=True)
    if a.save:
        bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(a.save))
        print(f"img2mesh: saved {os.path.abspath(a.save)}", flush=True)
    wanted = len(blender_img2mesh.blender.client.batch_jobs.photos_in(a.input))
    return 0 if len(coll.objects) == wanted else 1


def main():
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    a = parse(argv)
    for target in (a.save, a.export):
        if target and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            print(f"error: folder does not exist for {target}", file=sys.stderr)
            return 1
    if not hasattr(bpy.types, "IMG2MESH_OT_generate"):
        blender_img2mesh.register()
    if a.clear:
        bpy.ops.wm.read_homefile(use_empty=True)
    try:
        if a.batch:
            bpy.ops.img2mesh.batch(**operator_kwargs(a))
        else:
            bpy.ops.img2mesh.generate(**operator_kwargs(a))
    except RuntimeError as exc:  # the operator's ERROR report
        print(f"error: {str(exc).strip()}", file=sys.stderr)
        return 1
    if a.batch:
        return _batch_done(a)
    obj = bpy.context.view_layer.objects.active
    print(f"img2mesh: {obj.name}: {len(obj.data.vertices)} vertices, "
          f"{len(obj.data.polygons)} faces", flush=True)
    cam = bpy.data.objects.get(obj.name + " Camera") if a.camera else None
    if cam is not None:  # asked for: render through it, even with the startup's camera
        material.use_camera(bpy.context.scene, cam)
    if a.export:
        export(a.export, obj)
    if a.save:
        bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(a.save))
        print(f"img2mesh: saved {os.path.abspath(a.save)}", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    blender_img2mesh.blender.client.worker_client.release()
    sys.exit(code)
