"""Everything between the surface and the disk: UVs, colours, the texture, orientation,
and the files of one result (written together: :mod:`outputs`).

A result for ``-o NAME.EXT`` is ``NAME.EXT`` (the mesh), ``NAME.json`` (the sidecar),
with a texture ``NAME_texture.jpg|png`` (.ply, .obj; embedded in .glb), ``NAME.mtl``
(.obj), plus the preview and the generated picture when there are any.
"""

import json
import os

import numpy as np

from ..catalog import COLOR_MODES, FRAMES, MESH_FORMATS  # noqa: F401 -- this module's names
from . import mesh_files as meshfiles
from . import texture as texture_mod

# camera frame (x right, y down, z forward) -> Blender (X right, Y away from the viewer of
# the Front view, Z up): a proper rotation (90 degrees about X), so winding is kept.
CAMERA_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def color_mode(mode, path):
    """``auto`` -> ``both`` for .ply/.obj, ``texture`` for .glb (glTF multiplies
    COLOR_0 into the texture, so both together would darken the photo)."""
    if mode == "auto":
        return "texture" if path.lower().endswith(".glb") else "both"
    return mode


def texture_format(fmt, had_alpha):
    """``auto`` -> JPEG for photos, PNG where the photo had an alpha channel."""
    if fmt == "auto":
        return "png" if had_alpha else "jpeg"
    return fmt


def plan_files(files, output):
    """Reserve the mesh's files in ``files`` (an :class:`outputs.Result`); returns
    ``{"mesh", "sidecar", "material", "texture"}`` (absent ones None; the texture is
    planned by :func:`plan_texture` once the photo's format is known)."""
    stem, ext = os.path.splitext(output)
    return {"mesh": files.plan(output, "mesh"),
            "sidecar": files.plan(stem + ".json", "sidecar"),
            "material": files.plan(stem + ".mtl", "material") if ext.lower() == ".obj"
            else None, "texture": None}


def plan_texture(files, paths, color, fmt):
    """Reserve the texture file (.ply, .obj; a .glb embeds it)."""
    stem, ext = os.path.splitext(paths["mesh"])
    if color != "vertex" and ext.lower() != ".glb":
        paths["texture"] = files.plan(f"{stem}_texture{meshfiles.TEXTURE_FORMATS[fmt]}",
                                      "texture")
    return paths


class Surface:
    """The mesh as it is written: vertices in the camera frame, triangles, per-vertex
    sRGB colours and UVs, and the :class:`texture.Texture` they refer to."""

    def __init__(self, vertices, triangles, colors, uv, texture):
        self.vertices, self.triangles = vertices, triangles
        self.colors, self.uv, self.texture = colors, uv, texture


def paint(vertices, triangles, rgb_full, mask, f, work_shape, closed=False, split=True):
    """UVs and colours for a camera-frame mesh: every vertex where it projects into the
    photo; with a ``closed`` back the faces that do not face the camera get the
    texture's back region (their vertices split from the front's when ``split``)."""
    unseen = texture_mod.unseen_faces(vertices, triangles) if closed else None
    has_unseen = unseen is not None and bool(unseen.any())
    tex = texture_mod.build(rgb_full, mask, unseen=has_unseen)
    vertex_unseen = None
    if has_unseen and split:
        vertices, triangles, vertex_unseen, _ = texture_mod.split_seam(vertices, triangles,
                                                                       unseen)
    elif has_unseen:  # one colour per vertex: the front's where a vertex is on both
        vertex_unseen = np.ones(len(vertices), bool)
        vertex_unseen[triangles[~unseen].ravel()] = False
    xy = texture_mod.photo_xy(vertices, f, work_shape, rgb_full.shape[:2])
    uv = tex.uv(xy, vertex_unseen)
    return Surface(vertices, triangles, tex.colors(uv), uv, tex)


def frame_transform(vertices, frame, size):
    """``(rotation, centre, scale)`` taking camera-frame points to the output frame.

    ``blender``: Z up, the photographed side facing -Y (Blender's Front view), the mesh
    centred on X/Y, resting on Z = 0, largest dimension ``size``.  ``camera``: identity.
    """
    if frame == "camera":
        return np.eye(3), np.zeros(3), 1.0
    v = _rotate(vertices, CAMERA_TO_BLENDER)
    lo, hi = v.min(axis=0), v.max(axis=0)
    scale = size / max(float((hi - lo).max()), 1e-12)
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    return CAMERA_TO_BLENDER, centre, scale


def _rotate(points, rotation):
    """``points @ rotation.T`` column by column (a 3x3 product is no work for BLAS, whose
    threads only cost here)."""
    p = np.asarray(points, np.float64)
    return p[:, 0:1] * rotation[:, 0] + p[:, 1:2] * rotation[:, 1] + p[:, 2:3] * rotation[:, 2]


def orient(points, transform):
    """Apply a :func:`frame_transform` to camera-frame points (Nx3)."""
    rotation, centre, scale = transform
    return (_rotate(points, rotation) - centre) * scale


def texture_image(tex, max_size=None):
    """The texture as written: at most ``max_size`` px on its longer side."""
    image = tex.image
    if max_size and max(image.shape[:2]) > max_size:
        from PIL import Image

        h, w = image.shape[:2]
        s = max_size / max(h, w)
        image = np.asarray(Image.fromarray(image).resize(
            (max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS))
    return image


def write_mesh_files(files, paths, vertices, surface, color, fmt, texture_size=None,
                     z_up=True, double_sided=True, quality=97):
    """Write the mesh (``vertices`` in the output frame) with its texture and material
    under ``files``' temporary names; returns the texture's size (w, h) or None."""
    colors = surface.colors if color != "texture" else None
    uv = surface.uv if color != "vertex" else None
    tri = surface.triangles
    image = texture_image(surface.texture, texture_size) if uv is not None else None
    encoded = meshfiles.encode_image(image, fmt, quality) if image is not None else None
    mesh = paths["mesh"]
    texture_name = os.path.basename(paths["texture"]) if paths["texture"] else None
    if encoded is not None and paths["texture"]:
        files.write(paths["texture"], lambda tmp: _write_bytes(tmp, encoded))
    if mesh.lower().endswith(".glb"):
        from .gltf import write_glb

        if z_up:
            vertices = vertices[:, [0, 2, 1]] * np.array([1.0, 1.0, -1.0])  # (x, z, -y)
        files.write(mesh, lambda tmp: write_glb(
            tmp, vertices, tri, colors, uv, encoded and (encoded, fmt), double_sided))
    elif mesh.lower().endswith(".ply"):
        files.write(mesh, lambda tmp: meshfiles.write_ply(tmp, vertices, tri, colors, uv,
                                                          texture_name))
    else:
        mtl = os.path.basename(paths["material"])
        files.write(paths["material"], lambda tmp: meshfiles.write_mtl(tmp, texture_name))
        files.write(mesh, lambda tmp: meshfiles.write_obj(tmp, vertices, tri, colors, uv,
                                                          mtl))
    return None if image is None else [image.shape[1], image.shape[0]]


def _write_bytes(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


def write_json(path, data):
    """JSON as the sidecar holds it (``path`` is a temporary name)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, allow_nan=False)
        fh.write("\n")
