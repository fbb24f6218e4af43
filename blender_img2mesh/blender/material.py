"""A material whose Base Color is the mesh's color attribute (Material Preview, EEVEE,
Cycles), and a camera matched to the photo."""

import math

import bpy
import mathutils


def color_material(name, attribute_name):
    """New material: Color Attribute node (``layer_name``) -> Principled BSDF Base Color."""
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0) or mat.node_tree is None:
        mat.use_nodes = True  # always on (and deprecated) from Blender 5
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next((n for n in nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        out = next((n for n in nodes if n.type == "OUTPUT_MATERIAL"), None) \
            or nodes.new("ShaderNodeOutputMaterial")
        links.new(bsdf.outputs[0], out.inputs["Surface"])
    node = nodes.new("ShaderNodeVertexColor")
    node.layer_name = attribute_name
    node.location = (bsdf.location.x - 300, bsdf.location.y)
    links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
    if "Roughness" in bsdf.inputs:
        bsdf.inputs["Roughness"].default_value = 0.8
    # Solid-mode and Workbench show the attribute when shading color is "Attribute";
    # the material's viewport color is a neutral fallback.
    mat.diffuse_color = (0.8, 0.8, 0.8, 1.0)
    return mat


def add_matched_camera(context, obj, bounds, fov_deg, working_size=None, location=None):
    """A camera in front of ``obj`` (looking +Y, at the photographed side) whose field of
    view across the longer side is ``fov_deg``.  ``location`` (object space) wins when the
    pipeline reported where the photo's camera was; otherwise the camera frames the mesh.
    It becomes the scene camera and the render resolution's aspect is set to
    the photo's."""
    cam_data = bpy.data.cameras.new(obj.name + " Camera")
    cam_data.sensor_fit = "AUTO"
    cam_data.angle = math.radians(fov_deg)
    cam = bpy.data.objects.new(obj.name + " Camera", cam_data)
    obj.users_collection[0].objects.link(cam)
    render = context.scene.render
    w, h = working_size or (render.resolution_x, render.resolution_y)
    if working_size:
        long_px = max(render.resolution_x, render.resolution_y)
        render.resolution_x = max(1, round(long_px * w / max(w, h)))
        render.resolution_y = max(1, round(long_px * h / max(w, h)))
    (x0, y0, z0), (x1, y1, z1) = bounds
    if location is not None:
        loc = location
    else:
        half = math.tan(math.radians(fov_deg) / 2)
        half_w = half if w >= h else half * w / h  # tan of the half-angle across x
        half_h = half if h >= w else half * h / w
        dist = max((x1 - x0) / 2 / half_w, (z1 - z0) / 2 / half_h) * 1.05
        loc = ((x0 + x1) / 2, y0 - dist, (z0 + z1) / 2)
    cam.location = obj.matrix_world @ mathutils.Vector(loc)
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    cam_data.clip_end = max(cam_data.clip_end, 10 * max(x1 - x0, y1 - y0, z1 - z0))
    context.scene.camera = cam  # the render matches the photo
    return cam
