"""The Blender half of blender_img2mesh: panel, operators, preferences, mesh import.

Imports bpy, never torch/open3d/transformers/rembg: the pipeline runs in a worker process
(see ``worker_client`` and docs/protocol.md).
"""

import bpy

from .client import jobs, vendor, worker_client
from .ops import batch as batch_ops
from .ops import dependency_check, downloads, drop, torch_install, views, worker_ahead
from .ops import generate as operators
from .ui import messages, panels, pickers, preferences, properties

classes = (
    properties.IMG2MESH_PG_settings,
    preferences.IMG2MESH_AP_preferences,
    preferences.IMG2MESH_OT_check_dependencies,
    preferences.IMG2MESH_OT_release_models,
    preferences.IMG2MESH_OT_unpack_dependencies,
    downloads.IMG2MESH_OT_download_model,
    *torch_install.CLASSES,  # the optional PyTorch
    operators.IMG2MESH_OT_generate,
    operators.IMG2MESH_OT_cancel,
    batch_ops.IMG2MESH_OT_batch,
    *messages.CLASSES,  # the one-line messages' tooltips and popups
    *pickers.CLASSES,  # the photo's image browser, the custom model's folder
    *views.CLASSES,  # the Views source's photos
    panels.IMG2MESH_PT_main,
    panels.IMG2MESH_PT_advanced,
    panels.IMG2MESH_PT_batch,
    *drop.CLASSES,  # the drop handler on Blender 4.1+
)


def register():
    jobs.remove_stale_temp_dirs()  # left by a Blender that died mid-run
    try:  # where Blender 4.2+ installs extensions' wheels (the worker's packages)
        vendor.EXTENSIONS_LOCAL = bpy.utils.user_resource("EXTENSIONS", path=".local")
    except (AttributeError, ValueError, TypeError):  # before 4.2: no extensions
        vendor.EXTENSIONS_LOCAL = None
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.img2mesh = bpy.props.PointerProperty(type=properties.IMG2MESH_PG_settings)


def unregister():
    if jobs.current is not None:
        jobs.current.cancel()
    worker_ahead.reset()
    dependency_check.stop()
    torch_install.stop()
    worker_client.release()
    if hasattr(bpy.types.Scene, "img2mesh"):
        del bpy.types.Scene.img2mesh
    for cls in reversed(classes):
        if getattr(cls, "is_registered", True):
            bpy.utils.unregister_class(cls)
