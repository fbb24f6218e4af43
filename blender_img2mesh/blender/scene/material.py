"""A material whose Base Color is the photo as an image texture or the mesh's color
attribute (Material Preview, EEVEE, Cycles, Solid mode), and a camera matched to the photo."""

import math

import bpy
import mathutils

TEXTURE_NODE = "Img2Mesh Texture"
COLOR_NODE = "Img2Mesh Color"
#: what feeds Base Color: the panel's "Color" switch
COLOR_SOURCES = (
    ("TEXTURE", "Texture", "The photo as an image texture (UV map), else the vertex colors"),
    ("VERTEX", "Vertex Colors", "The colors stored per vertex (attribute 'Color')"),
)


def color_material(name, attribute_name):
    """New material: Color Attribute node (``layer_name``) -> Principled BSDF Base Color."""
    return mesh_material(name, attribute_name, None, "VERTEX")


def mesh_material(name, attribute_name=None, image=None, color="TEXTURE"):
    """New material with an Image Texture node (``image``, on the active UV map) and a
    Color Attribute node (``attribute_name``), whichever are given; ``color`` chooses
    which one feeds the Principled BSDF's Base Color (:func:`set_color_source`)."""
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0) or mat.node_tree is None:
        mat.use_nodes = True  # always on (and deprecated) from Blender 5
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = _principled(mat)
    if bsdf is None:
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        out = next((n for n in nodes if n.type == "OUTPUT_MATERIAL"), None) \
            or nodes.new("ShaderNodeOutputMaterial")
        links.new(bsdf.outputs[0], out.inputs["Surface"])
    if attribute_name:
        node = nodes.new("ShaderNodeVertexColor")
        node.name = node.label = COLOR_NODE
        node.layer_name = attribute_name
        node.location = (bsdf.location.x - 300, bsdf.location.y - 300)
    if image is not None:
        tex = nodes.new("ShaderNodeTexImage")
        tex.name = tex.label = TEXTURE_NODE
        tex.image = image
        tex.interpolation = "Linear"
        tex.extension = "EXTEND"  # the texture's border pixels, never a wrapped edge
        tex.location = (bsdf.location.x - 350, bsdf.location.y)
        nodes.active = tex  # Solid mode with Color "Texture" shows the active image node
    set_color_source(mat, color)
    if "Roughness" in bsdf.inputs:
        bsdf.inputs["Roughness"].default_value = 0.8
    # Solid-mode and Workbench show the attribute when shading color is "Attribute";
    # the material's viewport color is a neutral fallback.
    mat.diffuse_color = (0.8, 0.8, 0.8, 1.0)
    return mat


def _principled(mat):
    return next((n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)


def set_color_source(mat, color):
    """Link the texture (``"TEXTURE"``) or the vertex colors (``"VERTEX"``) to Base Color;
    the other one when the material has only that.  False for a material without
    Img2Mesh nodes (left as it is)."""
    tree = getattr(mat, "node_tree", None)
    bsdf = _principled(mat) if tree is not None else None
    if bsdf is None:
        return False
    tex, attr = tree.nodes.get(TEXTURE_NODE), tree.nodes.get(COLOR_NODE)
    source = tex if (color == "TEXTURE" or attr is None) else attr
    source = source or attr
    if source is None:
        return False
    tree.links.new(source.outputs["Color"], bsdf.inputs["Base Color"])
    return True


def color_source(mat):
    """``"TEXTURE"``, ``"VERTEX"`` or None: what feeds Base Color of ``mat`` now."""
    bsdf = _principled(mat) if getattr(mat, "node_tree", None) is not None else None
    links = bsdf.inputs["Base Color"].links if bsdf is not None else ()
    name = links[0].from_node.name if links else None
    return {TEXTURE_NODE: "TEXTURE", COLOR_NODE: "VERTEX"}.get(name)


def add_matched_camera(context, obj, bounds, fov_deg, working_size=None, location=None,
                       camera=None):
    """A camera in front of ``obj`` (looking +Y, at the photographed side) whose field of
    view across the longer side is ``fov_deg``.  ``location`` (object space) wins when the
    pipeline reported where the photo's camera was; otherwise the camera frames the mesh.
    Named after ``obj`` (one camera per result).  It becomes the scene camera
    (:func:`use_camera`: the render aspect follows the photo's) only when the scene has
    no camera or its camera is an earlier result's: a camera of the user's, and the
    render size set for it, stay.  The photo's size is kept on the camera as
    ``img2mesh_resolution``.  ``camera``: the result's camera from before (*Replace Last
    Result*), aimed anew instead of adding one; it stays the scene camera when it was."""
    if camera is None:
        cam_data = bpy.data.cameras.new(obj.name + " Camera")
        cam = bpy.data.objects.new(obj.name + " Camera", cam_data)
        obj.users_collection[0].objects.link(cam)
    else:
        cam, cam_data = camera, camera.data
    cam_data.sensor_fit = "AUTO"
    cam_data.angle = math.radians(fov_deg)
    cam["img2mesh_camera"] = True
    render = context.scene.render
    w, h = working_size or (render.resolution_x, render.resolution_y)
    if working_size:
        cam["img2mesh_resolution"] = [int(w), int(h)]
    current = context.scene.camera
    active = current is None or current == cam or bool(current.get("img2mesh_camera"))
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
    if active:
        use_camera(context.scene, cam)
    return cam


def use_camera(scene, cam):
    """Make ``cam`` the scene camera; a result's camera brings the photo's aspect to
    the render size (its longer side kept)."""
    scene.camera = cam
    size = cam.get("img2mesh_resolution")
    if size:
        w, h = size
        render = scene.render
        long_px = max(render.resolution_x, render.resolution_y)
        render.resolution_x = max(1, round(long_px * w / max(w, h)))
        render.resolution_y = max(1, round(long_px * h / max(w, h)))
