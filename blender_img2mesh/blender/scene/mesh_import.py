"""PLY file -> Blender mesh object, with numpy and ``foreach_set`` only (3.4 .. 5.x)."""

import os

import bpy
import numpy as np

from ..client import ply
from . import material, texture
from . import placement as placing

COLOR_ATTRIBUTE = "Color"
UV_MAP = "UVMap"


def weld(vertices, indices):
    """Vertices at one position merged: the pipeline duplicates them along UV seams
    (closed backs), where Blender keeps the UVs per face corner instead, so the mesh
    stays closed.  Returns (the vertices kept, in their order, as original indices;
    the face corners' new vertex indices), or None when every position is unique."""
    if not len(vertices):
        return None
    rows = np.ascontiguousarray(vertices, np.float32)
    key = rows.view(np.dtype((np.void, rows.itemsize * 3))).ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(first) == len(vertices):
        return None
    order = np.argsort(first)
    rank = np.empty(len(first), np.int64)
    rank[order] = np.arange(len(first))
    return first[order], rank[inverse.ravel()][indices].astype(np.int32)


def build_mesh(name, data, weld_seams=True):
    """A new mesh datablock from a :class:`ply.PlyMesh` (colors -> linear FLOAT_COLOR,
    per-vertex UVs -> the UV map ``UVMap``, per loop; seam vertices welded unless
    ``weld_seams`` is False: an open back has no seams)."""
    mesh = bpy.data.meshes.new(name)
    vertices, indices, colors = data.vertices, data.indices, data.colors
    welded = weld(vertices, indices) if data.uv is not None and weld_seams else None
    if welded is not None:
        kept, indices = welded
        vertices = vertices[kept]
        colors = None if colors is None else colors[kept]
    mesh.vertices.add(len(vertices))
    mesh.vertices.foreach_set("co", vertices.reshape(-1))
    mesh.loops.add(len(indices))
    mesh.loops.foreach_set("vertex_index", indices)
    mesh.polygons.add(len(data.loop_start))
    mesh.polygons.foreach_set("loop_start", data.loop_start)
    try:  # read-only (derived from loop_start) since Blender 4.0
        mesh.polygons.foreach_set("loop_total", data.loop_total)
    except (AttributeError, TypeError, RuntimeError):
        pass
    if len(data.loop_start):
        mesh.polygons.foreach_set("use_smooth", np.ones(len(data.loop_start), bool))
    if colors is not None:
        rgba = np.ones((len(colors), 4), np.float32)
        rgba[:, :3] = ply.srgb_to_linear(colors)
        attr = mesh.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
        attr.data.foreach_set("color", rgba.reshape(-1))
        _make_active(mesh, attr)
    if data.uv is not None and len(data.indices):
        layer = mesh.uv_layers.new(name=UV_MAP)
        layer.data.foreach_set("uv", data.uv[data.indices].reshape(-1))
        mesh.uv_layers.active = layer
    mesh.validate(clean_customdata=False)
    mesh.update()
    return mesh


def _make_active(mesh, attr):
    attrs = mesh.color_attributes
    attrs.active_color = attr
    index = next(i for i, a in enumerate(attrs) if a.name == attr.name)
    for prop in ("active_color_index", "render_color_index"):
        if hasattr(attrs, prop):  # 3.5+
            setattr(attrs, prop, index)
    if hasattr(mesh.attributes, "default_color_name"):  # 4.x+: the render color
        mesh.attributes.default_color_name = attr.name
    if hasattr(mesh.attributes, "active_color_name"):
        mesh.attributes.active_color_name = attr.name


def object_name(image_path):
    stem = os.path.splitext(os.path.basename(image_path))[0]
    return stem or "Img2Mesh"


def active_collection(context):
    layer = getattr(context.view_layer, "active_layer_collection", None)
    return layer.collection if layer is not None else context.scene.collection


def texture_path(data, result, warnings=None):
    """The texture file of an import: the PLY's ``TextureFile``, else the result's
    ``texture``; None (with a warning) when the file named is missing or there are no UVs."""
    path = data.texture_file or (result or {}).get("texture")
    if not path:
        return None
    if data.uv is None or not os.path.isfile(path):
        if warnings is not None:
            why = "the mesh has no UVs" if data.uv is None else "the file is missing"
            warnings.append(f"texture {path} not used ({why}): vertex colors only")
        return None
    return path


def import_result(context, mesh_path, name, result=None, add_camera=False, color="TEXTURE",
                  texture_storage="PACK", warnings=None, placement="BESIDE", replace=None,
                  among=None):
    """Create the object for ``mesh_path``: beside the scene's meshes at the 3D cursor's
    height and depth, or at the 3D cursor (``placement``, see :mod:`placement`), in the
    active collection,
    selected and active, with a material showing the texture and/or vertex colors
    (``color``: which one feeds Base Color; the texture image is packed or copied beside
    the .blend by ``texture_storage``, see :mod:`texture`).  ``replace``: an earlier
    result object updated in place instead (:func:`replace_data`: its new mesh, material
    and texture; it keeps its name, place and collections; its camera is aimed anew).
    ``among``: the objects a new one goes beside (default: all the scene's meshes).
    What the user should know goes to ``warnings`` (a list).  Returns the object."""
    data = ply.read_ply(mesh_path)
    # only a closed back (flat, mirror) has vertices split along UV seams
    mesh = build_mesh(name, data, weld_seams=(result or {}).get("back") != "open")
    tex_path = texture_path(data, result, warnings)
    # "<name> Texture" (as "<name> Camera"): the picture a text prompt made keeps "<name>"
    image = texture.load(tex_path, f"{mesh.name} Texture", texture_storage, warnings) \
        if tex_path else None
    if data.colors is not None or image is not None:
        attr = COLOR_ATTRIBUTE if data.colors is not None else None
        mesh.materials.append(material.mesh_material(name, attr, image, color))
    if replace is not None:
        obj = replace
        replace_data(obj, mesh)
        if base_name(obj.name) != name:  # another photo now: the result says which
            rename_result(obj, name)
    else:
        obj = bpy.data.objects.new(name, mesh)
        active_collection(context).objects.link(obj)
        min_x = float(data.vertices[:, 0].min()) if len(data.vertices) else 0.0
        obj.location = placing.location_for(context, obj, min_x, placement, among)
    view_layer = context.view_layer
    for other in view_layer.objects:
        if other.select_get():
            other.select_set(False)
    if replace is None or obj.name in view_layer.objects:  # (a hidden collection: not)
        obj.select_set(True)
        view_layer.objects.active = obj
    result = result or {}
    obj["img2mesh_depth_model"] = str(result.get("depth_model", ""))
    if add_camera and len(data.vertices):
        view_layer.update()
        bounds = (data.vertices.min(axis=0).tolist(), data.vertices.max(axis=0).tolist())
        cam = material.add_matched_camera(
            context, obj, bounds, float(result.get("fov_deg") or 50.0),
            result.get("working_size"), result.get("camera_location"),
            camera=result_camera(context, obj) if replace is not None else None)
        obj[CAMERA_KEY] = cam
    return obj


#: the custom property of a result object that points at its camera
CAMERA_KEY = "img2mesh_camera_object"


def result_camera(context, obj):
    """The camera made for result ``obj`` when it is still in the scene, else None."""
    cam = obj.get(CAMERA_KEY)
    if isinstance(cam, bpy.types.Object) and cam.type == "CAMERA" and \
            cam.name in context.scene.objects:
        return cam
    return None


def base_name(name):
    """``"cup"`` for ``"cup"`` and ``"cup.001"`` (Blender's suffix for a taken name)."""
    stem, dot, num = name.rpartition(".")
    return stem if dot and num.isdigit() and len(num) == 3 else name


def rename_result(obj, name):
    """Result ``obj`` (and its mesh, materials, texture, camera) named after ``name``."""
    obj.name = name
    obj.data.name = obj.name
    for mat in obj.data.materials:
        if mat is not None and mat.users == 1:
            mat.name = obj.name
            for node in (mat.node_tree.nodes if mat.node_tree else ()):
                if node.type == "TEX_IMAGE" and node.image is not None \
                        and node.image.users == 1:
                    node.image.name = f"{obj.name} Texture"
    cam = obj.get(CAMERA_KEY)
    if isinstance(cam, bpy.types.Object):
        cam.name = cam.data.name = f"{obj.name} Camera"


def replace_data(obj, mesh):
    """Give result ``obj`` the new ``mesh``; its old mesh, and the old materials and
    texture images nothing else uses, are removed (Undo brings them back).  The new
    datablocks take the old names."""
    old = obj.data
    obj.data = mesh
    if old is None or old == mesh:
        return
    materials = [m for m in old.materials if m is not None]
    images = [n.image for m in materials if m.node_tree is not None
              for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image is not None]
    old_name = old.name
    if old.users == 0:
        bpy.data.meshes.remove(old)
        mesh.name = old_name
    for old_mat, new_mat in zip(materials, [m for m in mesh.materials if m is not None]):
        name = old_mat.name
        if old_mat.users == 0:
            bpy.data.materials.remove(old_mat)
            new_mat.name = name
    new_images = [n.image for m in mesh.materials if m is not None and m.node_tree
                  for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image is not None]
    for old_img, new_img in zip(images, new_images):
        name = old_img.name
        if old_img.users == 0:
            bpy.data.images.remove(old_img)
            new_img.name = name
