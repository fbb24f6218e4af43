"""The photo the worker reads: a file on disk, or an image loaded in Blender saved to the
job's temp folder (packed bytes as they are; generated/edited pixels as PNG).  And the
picture a text prompt made, brought into Blender's image list."""

import os

import bpy


class SourceError(ValueError):
    pass


def from_file(filepath):
    path = os.path.abspath(bpy.path.abspath(filepath)) if filepath else ""
    if not path:
        raise SourceError("no image given: choose an image file")
    if not os.path.isfile(path):
        raise SourceError(f"image file not found: {path}")
    return path


def safe_stem(name):
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return os.path.splitext(stem)[0] or "image"


def from_image(image, temp_dir):
    """A path the worker can read for the Blender image ``image``."""
    if image is None:
        raise SourceError("no image chosen")
    stem = safe_stem(image.name)
    disk = bpy.path.abspath(image.filepath) if image.filepath else ""
    if image.packed_file is not None:
        ext = os.path.splitext(image.filepath or "")[1] or ".png"
        path = os.path.join(temp_dir, stem + ext)
        with open(path, "wb") as f:
            f.write(image.packed_file.data)
        return path
    if (image.source == "FILE" and disk and os.path.isfile(disk)
            and not image.is_dirty):
        return os.path.abspath(disk)
    if image.type in ("RENDER_RESULT", "COMPOSITING"):
        path = os.path.join(temp_dir, stem + ".png")
        image.save_render(path)
        return path
    if not image.has_data and image.size[0] == 0:
        raise SourceError(f"image '{image.name}' has no pixels")
    path = os.path.join(temp_dir, stem + ".png")
    copy = image.copy()
    try:
        copy.filepath_raw = path
        copy.file_format = "PNG"
        copy.save()
    finally:
        bpy.data.images.remove(copy)
    if not os.path.isfile(path):
        raise SourceError(f"could not save image '{image.name}' for the worker")
    return path


def keep_generated_image(result, name):
    """Load the picture the worker generated from a text prompt (``result["image"]``, in
    the job's temp folder) into ``bpy.data.images``, packed so that it outlives the folder
    and kept in saved files.  Returns the image, or None for a photo run."""
    path = (result or {}).get("image")
    if not path or not os.path.isfile(path):
        return None
    image = bpy.data.images.load(path, check_existing=True)
    image.name = name
    image.pack()
    image.use_fake_user = True  # nothing uses it: without this, saving drops it
    return image
