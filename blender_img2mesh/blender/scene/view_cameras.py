"""The recovered cameras of a Views result in the scene: one Blender camera per registered
photo, parented to the object (they move with it), with its photo as the camera's
background image, so looking through a camera shows how the object fits that photo."""

import os

import bpy
from mathutils import Matrix

from ..client import view_cameras

#: the object's custom property listing its cameras' names
CAMERAS_KEY = "img2mesh_view_cameras"
#: the background photo's opacity over the object
PHOTO_ALPHA = 0.5


def add_cameras(context, obj, cameras):
    """Cameras (:class:`view_cameras.ViewCamera`) for ``obj`` in a new collection
    ``"<object> Cameras"`` inside the object's first collection; the scene's render size is
    set to the first camera's photo size (so the camera frame is the photo's).  Returns the
    camera objects."""
    parent = obj.users_collection[0] if obj.users_collection else context.scene.collection
    coll = bpy.data.collections.new(f"{obj.name} Cameras")
    parent.children.link(coll)
    made = []
    for cam in cameras:
        stem = os.path.splitext(cam.name)[0]
        data = bpy.data.cameras.new(f"{obj.name} {stem}")
        data.sensor_fit, data.sensor_width = "AUTO", view_cameras.SENSOR_MM
        data.lens = cam.lens
        data.shift_x, data.shift_y = cam.shift
        data.display_size = 0.2 * max(obj.dimensions) if max(obj.dimensions) > 0 else 0.2
        if cam.photo and os.path.isfile(cam.photo):
            background = data.background_images.new()
            background.image = bpy.data.images.load(cam.photo, check_existing=True)
            background.alpha = PHOTO_ALPHA
            background.display_depth = "FRONT"
            data.show_background_images = True
        cam_obj = bpy.data.objects.new(data.name, data)
        coll.objects.link(cam_obj)
        cam_obj.parent = obj
        cam_obj.matrix_parent_inverse = Matrix.Identity(4)
        cam_obj.matrix_basis = Matrix(cam.matrix)
        made.append(cam_obj)
    if cameras and cameras[0].size:
        render = context.scene.render
        render.resolution_x, render.resolution_y = cameras[0].size
        render.resolution_percentage = 100
    obj[CAMERAS_KEY] = ";".join(c.name for c in made)
    return made
