"""Render an Img2Mesh result to a PNG to look at (not a test).

    blender -b OUT.blend -P tests/blender/render_result.py -- OBJECT OUT.png [ENGINE]

ENGINE: BLENDER_WORKBENCH (Solid mode's shading: the texture when the material shows it,
else the vertex colors; default), CYCLES or BLENDER_EEVEE(_NEXT) (the material).
Uses the scene camera (e.g. the one --camera added) or adds one in front of the object.
"""

import sys

import bpy
import mathutils

argv = sys.argv[sys.argv.index("--") + 1:]
name, out = argv[:2]
engine = argv[2] if len(argv) > 2 else "BLENDER_WORKBENCH"
orbit = len(argv) > 3 and argv[3] == "orbit"  # a new 3/4 camera instead of the scene's
scene = bpy.context.scene
obj = bpy.data.objects[name]
for other in list(scene.objects):
    if other.type == "MESH" and other is not obj:
        other.hide_render = True
if scene.camera is None or orbit:
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    centre = obj.matrix_world @ (sum((mathutils.Vector(c) for c in obj.bound_box),
                                     mathutils.Vector()) / 8)
    cam.location = centre + mathutils.Vector((-2.6, -3.6, 1.2))
    cam.rotation_euler = (centre - cam.location).to_track_quat("-Z", "Y").to_euler()
scene.render.engine = engine
scene.render.resolution_percentage = 50
scene.render.filepath = out
scene.render.image_settings.file_format = "PNG"
scene.view_settings.view_transform = "Standard"  # show the photo's colors as they are
if engine == "BLENDER_WORKBENCH":
    shading = scene.display.shading
    shading.light = "STUDIO"
    mat = obj.active_material
    tex = mat.node_tree.nodes.get("Img2Mesh Texture") if mat and mat.node_tree else None
    base = [n for n in (mat.node_tree.nodes if tex else ()) if n.type == "BSDF_PRINCIPLED"]
    shows_texture = bool(base and base[0].inputs["Base Color"].links
                         and base[0].inputs["Base Color"].links[0].from_node == tex)
    shading.color_type = "TEXTURE" if shows_texture else "VERTEX"
else:
    if engine == "CYCLES":
        scene.cycles.samples = 16
        scene.cycles.device = "CPU"
        scene.cycles.use_denoising = False
    world = scene.world or bpy.data.worlds.new("w")
    scene.world = world
    world.color = (0.8, 0.8, 0.8)
    background = world.node_tree.nodes.get("Background") if world.use_nodes else None
    if background is not None:
        background.inputs["Color"].default_value = (0.8, 0.8, 0.8, 1.0)
bpy.ops.render.render(write_still=True)
print("RENDERED", out)
