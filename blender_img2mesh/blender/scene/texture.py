"""The texture image of a result, brought into ``bpy.data.images`` so that it outlives the
worker's temp folder (deleted right after the import): packed into the .blend, or copied
to ``//textures/`` beside the saved .blend and linked there (the add-on preference
*Texture Storage*)."""

import os
import shutil

import bpy

STORAGES = (
    ("PACK", "Pack into .blend", "The texture image is stored inside the .blend file"),
    ("FILE", "Save beside .blend", "The texture is copied to a 'textures' folder next to "
     "the saved .blend and linked from there (packed while the .blend is unsaved)"),
)


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._") \
        or "texture"


def _free_path(folder, stem, ext):
    path = os.path.join(folder, stem + ext)
    n = 1
    while os.path.exists(path):  # never overwrite a texture the user keeps
        path = os.path.join(folder, f"{stem}_{n}{ext}")
        n += 1
    return path


def load(path, name, storage="PACK", warnings=None):
    """The image for the texture file ``path``, named ``name``, sRGB; packed
    (``storage`` ``"PACK"``) or copied beside the .blend (``"FILE"``: packed with a
    warning appended to ``warnings`` while the .blend is unsaved)."""
    blend = bpy.data.filepath
    if storage == "FILE" and not blend:
        storage = "PACK"
        if warnings is not None:
            warnings.append("the .blend is not saved yet: the texture is packed into it "
                            "(save first to keep textures beside it)")
    if storage == "FILE":
        folder = os.path.join(os.path.dirname(blend), "textures")
        os.makedirs(folder, exist_ok=True)
        dest = _free_path(folder, _safe(name), os.path.splitext(path)[1].lower() or ".png")
        shutil.copyfile(path, dest)
        image = bpy.data.images.load(dest, check_existing=False)
        image.filepath = bpy.path.relpath(dest)  # "//textures/...": moves with the .blend
    else:
        image = bpy.data.images.load(path, check_existing=False)
        image.pack()  # reads the file now, before its folder goes
    image.name = name
    image.colorspace_settings.name = "sRGB"
    return image
