"""Where a new result goes: beside what the scene already holds (never inside another
object's bounds), or at the 3D cursor -- the add-on preference *Placement*; and the view
framing the new results (the preference *Frame New Results*)."""

import bpy
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


def scene_mesh_bounds(scene, exclude=(), among=None):
    """The union of the world bounds of ``scene``'s mesh objects (``among``: only those
    objects; ``exclude`` left out), or None when there is none."""
    lo = hi = None
    for obj in (scene.objects if among is None else among):
        if obj.type != "MESH" or obj in exclude or not len(obj.data.vertices):
            continue
        box = world_bounds(obj)
        if box is None:
            continue
        lo = box[0] if lo is None else mathutils.Vector(map(min, lo, box[0]))
        hi = box[1] if hi is None else mathutils.Vector(map(max, hi, box[1]))
    return None if lo is None else (lo, hi)


def location_for(context, obj, local_min_x, placement="BESIDE", among=None):
    """Where ``obj`` (not rotated or scaled; its mesh's smallest x is ``local_min_x``)
    goes: the 3D cursor, moved along +X past the scene's other meshes (``among``: past
    those objects only, e.g. a batch's earlier results) plus :data:`GAP` when
    ``placement`` is ``"BESIDE"``."""
    cursor = context.scene.cursor.location.copy()
    if placement != "BESIDE":
        return cursor
    context.view_layer.update()
    union = scene_mesh_bounds(context.scene, exclude=(obj,), among=among)
    if union is not None:
        cursor.x = max(cursor.x, union[1].x + GAP - local_min_x)
    return cursor


def frame(context, objects):
    """Make every 3D viewport of the window show ``objects`` (they become the selection,
    the last one active; then View Selected).  Only in a window: headless (no window,
    ``blender -b``) nothing happens.  Returns the number of views framed."""
    window = getattr(context, "window", None)
    objects = [o for o in objects if o is not None and o.name in context.view_layer.objects]
    if bpy.app.background or window is None or not objects:
        return 0
    for other in context.view_layer.objects:
        if other.select_get() and other not in objects:
            other.select_set(False)
    for obj in objects:
        obj.select_set(True)
    context.view_layer.objects.active = objects[-1]
    framed = 0
    for area in window.screen.areas:
        region = next((r for r in area.regions if r.type == "WINDOW"), None)
        if area.type != "VIEW_3D" or region is None:
            continue
        with context.temp_override(window=window, area=area, region=region):
            if bpy.ops.view3d.view_selected() == {"FINISHED"}:
                framed += 1
    return framed
