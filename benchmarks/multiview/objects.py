"""The textured objects of the multi-view ground truth (``benchmarks/multiview/scenes.py``),
built with bpy: meshes made closed and plain (booleans applied, the result baked into a new
mesh, so the true mesh is exactly what is rendered) and a diffuse material that needs no
UVs.  Objects (about 1.2-2 units across, centred near the origin, Z up): ``mug`` (an open
cup with a ring handle), ``torus``, ``box`` (bevelled), ``lblock`` (an L-shaped block)."""

import math

import bpy  # first: bmesh and mathutils come with it
import bmesh
import numpy as np
from mathutils import Matrix, Vector

from ..accuracy import make_scenes


def mesh_object(name, bm):
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def cylinder(name, radius, z0, z1, segments=96):
    bm = bmesh.new()
    bmesh.ops.create_cone(bm, cap_ends=True, segments=segments, radius1=radius,
                          radius2=radius, depth=z1 - z0)
    bmesh.ops.translate(bm, verts=bm.verts, vec=(0, 0, 0.5 * (z0 + z1)))
    return mesh_object(name, bm)


def box(name, lo, hi):
    bm = bmesh.new()
    geom = bmesh.ops.create_cube(bm, size=1.0)
    for v in geom["verts"]:
        v.co = Vector([lo[i] + (v.co[i] + 0.5) * (hi[i] - lo[i]) for i in range(3)])
    return mesh_object(name, bm)


def boolean(obj, other, operation):
    mod = obj.modifiers.new(other.name, "BOOLEAN")
    mod.operation, mod.object, mod.solver = operation, other, "EXACT"
    other.hide_render = True
    return mod


def bake(obj, name):
    """A new plain mesh object from ``obj`` evaluated (modifiers applied, world frame);
    ``obj`` and its boolean operands are removed."""
    bpy.context.view_layer.update()
    V, T = evaluated_triangles(obj)
    helpers = [m.object for m in obj.modifiers if m.type == "BOOLEAN"] + [obj]
    for h in helpers:
        bpy.data.objects.remove(h)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(V.tolist(), [], T.tolist())
    mesh.validate()
    out = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(out)
    return out


def make_mug():
    cup = cylinder("mug_outer", 0.55, -0.6, 0.6)
    handle = make_scenes.make_torus(0.3, 0.07, nu=64, nv=24)
    handle.rotation_euler = (math.pi / 2, 0, 0)  # in the XZ plane
    handle.location = (0.68, 0, 0.0)
    cavity = cylinder("mug_cavity", 0.48, -0.5, 0.8)
    boolean(cup, handle, "UNION")
    boolean(cup, cavity, "DIFFERENCE")
    return bake(cup, "mug")


def make_torus():
    return bake(make_scenes.make_torus(0.75, 0.28, nu=96, nv=32), "torus")


def make_box():
    obj = box("box_raw", (-0.7, -0.45, -0.4), (0.7, 0.45, 0.4))
    mod = obj.modifiers.new("bevel", "BEVEL")
    mod.width, mod.segments = 0.08, 3
    return bake(obj, "box")


def make_lblock():
    base = box("lblock_base", (-0.7, -0.4, -0.5), (0.7, 0.4, -0.05))
    tower = box("lblock_tower", (-0.7, -0.4, -0.1), (-0.15, 0.4, 0.6))
    boolean(base, tower, "UNION")
    return bake(base, "lblock")


# object -> (maker, texture)
OBJECTS = {"mug": (make_mug, "coffee"), "torus": (make_torus, "astronaut"),
           "box": (make_box, "chelsea"), "lblock": (make_lblock, "rocket")}


def evaluated_triangles(obj):
    """(vertices Nx3 float64 world frame, triangles Mx3 int64), modifiers applied."""
    return make_scenes.evaluated_triangles(obj, Matrix.Identity(4))


def texture_material(obj, image_path, lo, hi):
    """Diffuse (view-independent) material: the image box-projected on object
    coordinates (no UVs needed), once across the box ``lo``..``hi``, times a 3D colour
    noise (opposite sides of a box projection would otherwise be mirror images)."""
    mat = bpy.data.materials.new(obj.name)
    mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    extent = float(max(np.asarray(hi) - np.asarray(lo)))
    coord = nt.nodes.new("ShaderNodeTexCoord")
    mapping = nt.nodes.new("ShaderNodeMapping")
    mapping.inputs["Scale"].default_value = (1 / extent,) * 3
    mapping.inputs["Location"].default_value = tuple(-np.asarray(lo, float) / extent)
    tex = nt.nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(image_path)
    tex.projection, tex.projection_blend, tex.extension = "BOX", 0.3, "MIRROR"
    # the box projection shows the same photo on every side: a smooth 3D warp of its
    # coordinates makes each side a different part of it (no look-alike views 90 deg apart)
    warp = nt.nodes.new("ShaderNodeTexNoise")
    warp.inputs["Scale"].default_value = 1.5
    warp.inputs["Detail"].default_value = 1.0
    shift = nt.nodes.new("ShaderNodeVectorMath")
    shift.operation = "MULTIPLY_ADD"
    shift.inputs[1].default_value = (0.6, 0.6, 0.6)
    noise = nt.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = 2.5
    noise.inputs["Detail"].default_value = 3.0
    mix = nt.nodes.new("ShaderNodeMix")
    mix.data_type, mix.blend_type = "RGBA", "MULTIPLY"
    mix.inputs["Factor"].default_value = 0.6
    diffuse = nt.nodes.new("ShaderNodeBsdfDiffuse")
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    nt.links.new(coord.outputs["Object"], mapping.inputs["Vector"])
    nt.links.new(coord.outputs["Object"], warp.inputs["Vector"])
    nt.links.new(warp.outputs["Color"], shift.inputs[0])
    nt.links.new(mapping.outputs["Vector"], shift.inputs[2])
    nt.links.new(shift.outputs["Vector"], tex.inputs["Vector"])
    nt.links.new(coord.outputs["Object"], noise.inputs["Vector"])
    nt.links.new(tex.outputs["Color"], mix.inputs["A"])
    nt.links.new(noise.outputs["Color"], mix.inputs["B"])
    nt.links.new(mix.outputs["Result"], diffuse.inputs["Color"])
    nt.links.new(diffuse.outputs["BSDF"], out.inputs["Surface"])
    obj.data.materials.append(mat)
