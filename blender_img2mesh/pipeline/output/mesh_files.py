"""Mesh file formats written from numpy: PLY (binary) and OBJ with its MTL.

* PLY: ``float x y z``, with a texture ``float s t`` per vertex and a ``comment
  TextureFile NAME`` line (as MeshLab writes them), with vertex colours ``uchar red green
  blue`` (sRGB); triangles as ``uchar`` count + ``int`` indices.
* OBJ: ``mtllib``/``usemtl``, ``v x y z r g b`` (the common vertex-colour extension,
  0..1 sRGB), ``vt u v``, ``f a/a b/b c/c``; the MTL's ``map_Kd`` names the texture.

UVs are given with their origin at the bottom left (``t = 1 - y / height``), which is
what PLY and OBJ readers expect.  (.glb: :mod:`gltf`.)
"""

import io

import numpy as np
from PIL import Image

from ..catalog import control_character

TEXTURE_FORMATS = {"jpeg": ".jpg", "png": ".png"}


def header_name(name):
    """``name`` as a header line holds it: a name with a control character (a line
    break would end the line and break the file) is a ``ValueError``, never written."""
    bad = control_character(name)
    if bad:
        raise ValueError(f"a file name with a control character ({bad}) cannot be written "
                         f"into a mesh header: {name!r}")
    return name


def encode_image(image, fmt, quality=97):
    """``image`` (uint8 HxWx3) as JPEG or PNG bytes."""
    buf = io.BytesIO()
    if fmt == "jpeg":
        Image.fromarray(image).save(buf, format="JPEG", quality=quality, subsampling=0,
                                    optimize=False)
    else:
        Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def write_ply(path, vertices, triangles, colors=None, uv=None, texture_name=None):
    """Binary little-endian PLY (the layout Blender, open3d, trimesh and MeshLab read),
    written from numpy in one go."""
    fields = [("xyz", "<f4", 3)]
    props = ["property float x", "property float y", "property float z"]
    if uv is not None:
        fields.append(("st", "<f4", 2))
        props += ["property float s", "property float t"]
    if colors is not None:
        fields.append(("rgb", "u1", 3))
        props += ["property uchar red", "property uchar green", "property uchar blue"]
    vert = np.empty(len(vertices), fields)
    vert["xyz"] = vertices
    if uv is not None:
        vert["st"] = uv
    if colors is not None:
        vert["rgb"] = np.clip(np.rint(colors), 0, 255)
    face = np.empty(len(triangles), [("n", "u1"), ("idx", "<i4", 3)])
    face["n"] = 3
    face["idx"] = triangles
    header = ["ply", "format binary_little_endian 1.0", "comment made by blender_img2mesh"]
    if texture_name:
        header.append(f"comment TextureFile {header_name(texture_name)}")
    header += [f"element vertex {len(vert)}", *props, f"element face {len(face)}",
               "property list uchar int vertex_indices", "end_header", ""]
    with open(path, "wb") as fh:
        fh.write("\n".join(header).encode("utf-8"))
        fh.write(vert.tobytes())
        fh.write(face.tobytes())


def _rows(fmt, array):
    """One line per row of ``array`` with ``fmt`` (C-speed formatting of the flat array)."""
    n = len(array)
    return (fmt * n) % tuple(np.asarray(array).ravel().tolist()) if n else ""


def write_obj(path, vertices, triangles, colors=None, uv=None, mtl_name=None,
              material="img2mesh"):
    """Wavefront OBJ; ``mtl_name`` (beside it) when the mesh has a material."""
    parts = ["# made by blender_img2mesh\n"]
    if mtl_name:
        parts.append(f"mtllib {header_name(mtl_name)}\n")
    if colors is not None:
        v = np.column_stack([vertices, np.asarray(colors, np.float64) / 255.0])
        parts.append(_rows("v %.6f %.6f %.6f %.4f %.4f %.4f\n", v))
    else:
        parts.append(_rows("v %.6f %.6f %.6f\n", vertices))
    f = np.asarray(triangles, np.int64) + 1
    if uv is not None:
        parts.append(_rows("vt %.7f %.7f\n", uv))
    if mtl_name:
        parts.append(f"usemtl {material}\n")
    if uv is not None:
        parts.append(_rows("f %d/%d %d/%d %d/%d\n", np.repeat(f, 2, axis=1)))
    else:
        parts.append(_rows("f %d %d %d\n", f))
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(parts)


def write_mtl(path, texture_name=None, material="img2mesh"):
    """The OBJ's material: the texture as its diffuse map (``map_Kd``)."""
    lines = [f"newmtl {material}", "Ka 1.000 1.000 1.000", "Kd 1.000 1.000 1.000",
             "Ks 0.000 0.000 0.000", "d 1.0", "illum 1"]
    if texture_name:
        lines.append(f"map_Kd {header_name(texture_name)}")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")
