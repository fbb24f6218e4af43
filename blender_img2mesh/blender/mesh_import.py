"""PLY file -> Blender mesh object, with numpy and ``foreach_set`` only (3.4 .. 5.x)."""

import os

import bpy
import numpy as np

from . import material, ply

COLOR_ATTRIBUTE = "Color"


def build_mesh(name, data):
    """A new mesh datablock from a :class:`ply.PlyMesh` (colors -> linear FLOAT_COLOR)."""
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(data.vertices))
    mesh.vertices.foreach_set("co", data.vertices.reshape(-1))
    mesh.loops.add(len(data.indices))
    mesh.loops.foreach_set("vertex_index", data.indices)
    mesh.polygons.add(len(data.loop_start))
    mesh.polygons.foreach_set("loop_start", data.loop_start)
    try:  # read-only (derived from loop_start) since Blender 4.0
        mesh.polygons.foreach_set("loop_total", data.loop_total)
    except (AttributeError, TypeError, RuntimeError):
        pass
    if len(data.loop_start):
        mesh.polygons.foreach_set("use_smooth", np.ones(len(data.loop_start), bool))
    if data.colors is not None:
        rgba = np.ones((len(data.colors), 4), np.float32)
        rgba[:, :3] = ply.srgb_to_linear(data.colors)
        attr = mesh.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
        attr.data.foreach_set("color", rgba.reshape(-1))
        _make_active(mesh, attr)
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


def import_result(context, mesh_path, name, result=None, add_camera=False):
    """Create the object for ``mesh_path``: at the 3D cursor, in the active collection,
    selected and active, with a color material.  Returns the object."""
    data = ply.read_ply(mesh_path)
    mesh = build_mesh(name, data)
    if data.colors is not None:
        mesh.materials.append(material.color_material(name, COLOR_ATTRIBUTE))
    obj = bpy.data.objects.new(name, mesh)
    active_collection(context).objects.link(obj)
    obj.location = context.scene.cursor.location
    view_layer = context.view_layer
    for other in view_layer.objects:
        if other.select_get():
            other.select_set(False)
    obj.select_set(True)
    view_layer.objects.active = obj
    result = result or {}
    obj["img2mesh_depth_model"] = str(result.get("depth_model", ""))
    if add_camera and len(data.vertices):
        view_layer.update()
        bounds = (data.vertices.min(axis=0).tolist(), data.vertices.max(axis=0).tolist())
        material.add_matched_camera(context, obj, bounds, float(result.get("fov_deg") or 50.0),
                                    result.get("working_size"), result.get("camera_location"))
    return obj
