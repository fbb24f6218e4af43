"""Where a new result goes: beside what the scene already holds (never inside another
object's bounds), or at the 3D cursor -- the add-on preference *Placement*."""

import mathutils

PLACEMENTS = (
    ("BESIDE", "Beside Previous",
     "Next to the scene's meshes (+X side, at the 3D cursor's height and depth): results "
     "never land inside one another or inside other objects"),
    ("CURSOR", "At 3D Cursor", "At the 3D cursor, whatever is there"),
)
#: the space left between a new result and the meshes beside it (Blender units)
GAP = 0.25


def world_bounds(obj):
    """(min, max) world-space corners of ``obj``'s bounding box, or None when empty."""
    corners = [obj.matrix_world @ mathutils.Vector(c) for c in obj.bound_box]
    if not corners:
        return None
    return (mathutils.Vector([min(c[i] for c in corners) for i in range(3)]),
            mathutils.Vector([max(c[i] for c in corners) for i in range(3)]))


def scene_mesh_bounds(scene, exclude=()):
    """The union of the world bounds of ``scene``'s mesh objects (``exclude`` left out),
    or None when there is none."""
    lo = hi = None
    for obj in scene.objects:
        if obj.type != "MESH" or obj in exclude or not len(obj.data.vertices):
            continue
        box = world_bounds(obj)
        if box is None:
            continue
        lo = box[0] if lo is None else mathutils.Vector(map(min, lo, box[0]))
        hi = box[1] if hi is None else mathutils.Vector(map(max, hi, box[1]))
    return None if lo is None else (lo, hi)


def location_for(context, obj, local_min_x, placement="BESIDE"):
    """Where ``obj`` (not rotated or scaled; its mesh's smallest x is ``local_min_x``)
    goes: the 3D cursor, moved along +X past the scene's other meshes plus :data:`GAP`
    when ``placement`` is ``"BESIDE"``."""
    cursor = context.scene.cursor.location.copy()
    if placement != "BESIDE":
        return cursor
    context.view_layer.update()
    union = scene_mesh_bounds(context.scene, exclude=(obj,))
    if union is not None:
        cursor.x = max(cursor.x, union[1].x + GAP - local_min_x)
    return cursor
