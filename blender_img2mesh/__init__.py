"""blender_img2mesh: turn a photo (or a text prompt) into a colored 3D mesh.

Two halves, and the dependency runs one way:

* ``blender_img2mesh.pipeline`` -- image -> mesh file.  Plain Python (numpy, Pillow,
  open3d, rembg, transformers).  Never imports bpy; runs as a command-line tool
  (``python -m blender_img2mesh``) and as the worker process the add-on launches.
* ``blender_img2mesh.blender`` -- the add-on (panel, operator, mesh import).  Imports
  bpy, never torch/open3d; it talks to the pipeline only through a subprocess.

This file must import without bpy: ``register``/``unregister`` import the Blender half
lazily, so the worker can run from the very same files.
"""

__version__ = "0.1.0"

# Legacy (pre-4.2) add-on metadata; Blender 4.2+ reads blender_manifest.toml instead.
bl_info = {
    "name": "Img2Mesh",
    "author": "blender_img2mesh developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "View3D > Sidebar > Img2Mesh",
    "description": "Turn a photo or a text prompt into a colored 3D mesh",
    "category": "Import-Export",
}


def register():
    from .blender import register as _register

    _register()


def unregister():
    from .blender import unregister as _unregister

    _unregister()
