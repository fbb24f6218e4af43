"""Colors, orientation and files: everything between the surface and the disk.

Files are written to a temporary name in the target folder and renamed into place, so a
failed or cancelled run never leaves a half-written mesh behind.
"""

import contextlib
import json
import os
import tempfile

import numpy as np
from scipy import ndimage

from .errors import Img2MeshError

MESH_FORMATS = (".ply", ".obj", ".glb")
FRAMES = ("blender", "camera")

# camera frame (x right, y down, z forward) -> Blender (X right, Y away from the viewer of
# the Front view, Z up): a proper rotation (90 degrees about X), so winding is kept.
CAMERA_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def sample_colors(vertices, rgb, f_work, work_shape):
    """sRGB uint8 colors for camera-frame vertices, sampled bilinearly from the full-size
    photo ``rgb`` (the camera was calibrated for the working image ``work_shape``)."""
    from .camera import project

    h, w = work_shape
    H, W = rgb.shape[:2]
    uv = project(vertices, f_work, w, h)
    x = uv[:, 0] * (W / w) - 0.5
    y = uv[:, 1] * (H / h) - 0.5
    out = np.empty((len(vertices), 3), np.uint8)
    for c in range(3):
        vals = ndimage.map_coordinates(rgb[..., c].astype(np.float32), [y, x], order=1,
                                       mode="nearest")
        out[:, c] = np.clip(vals + 0.5, 0, 255).astype(np.uint8)
    return out


def frame_transform(vertices, frame, size):
    """``(rotation, centre, scale)`` taking camera-frame points to the output frame.

    ``blender``: Z up, the photographed side facing -Y (Blender's Front view), the mesh
    centred on X/Y, resting on Z = 0, largest dimension ``size``.  ``camera``: identity.
    """
    if frame == "camera":
        return np.eye(3), np.zeros(3), 1.0
    v = vertices @ CAMERA_TO_BLENDER.T
    lo, hi = v.min(axis=0), v.max(axis=0)
    scale = size / max(float((hi - lo).max()), 1e-12)
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    return CAMERA_TO_BLENDER, centre, scale


def orient(points, transform):
    """Apply a :func:`frame_transform` to camera-frame points (Nx3)."""
    rotation, centre, scale = transform
    return (np.asarray(points, np.float64) @ rotation.T - centre) * scale


def check_output(path, formats=MESH_FORMATS, what="output"):
    """Fail early (before any heavy work) when ``path`` cannot be written."""
    path = os.path.abspath(os.fspath(path))
    ext = os.path.splitext(path)[1].lower()
    if ext not in formats:
        raise Img2MeshError(f"{what} must end in {', '.join(formats)}: {path}", file=path,
                            hint=f"e.g. -o {os.path.splitext(os.path.basename(path))[0]}"
                            f"{formats[0]}", kind="output")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise Img2MeshError(f"{what} folder does not exist: {folder}", file=path,
                            hint="create it first or choose another path", kind="output")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Img2MeshError(f"{what} folder is not writable: {folder}", file=path,
                            hint="choose a folder you can write to", kind="output")
    if os.path.isdir(path):
        raise Img2MeshError(f"{what} is a folder: {path}", file=path,
                            hint="give a file name", kind="output")
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (same extension); rename on success only."""
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".partial{ext}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for secrets, not for meshes
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def srgb_to_linear(c):
    """sRGB-encoded values in 0..1 -> linear light (IEC 61966-2-1)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def write_mesh(path, vertices, triangles, colors, z_up=True):
    """Write .ply (binary), .obj or .glb with per-vertex colors given as sRGB uint8.

    PLY and OBJ store the sRGB values as they are (what Blender's and other importers
    expect); glTF's COLOR_0 is linear by specification, so .glb gets linear values.
    glTF is Y-up: a Z-up mesh (``z_up``) is turned so that glTF importers (Blender's
    among them) bring it in upright.
    """
    rgb = colors.astype(np.float64) / 255.0
    if path.lower().endswith(".glb"):
        from .gltf import write_glb

        if z_up:
            vertices = vertices[:, [0, 2, 1]] * np.array([1.0, 1.0, -1.0])  # (x, z, -y)
        with atomic_path(path) as tmp:
            write_glb(tmp, vertices, triangles, srgb_to_linear(rgb))
        return
    if path.lower().endswith(".ply"):
        with atomic_path(path) as tmp:
            write_ply(tmp, vertices, triangles, colors)
        return
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices.astype(np.float64)),
                                     o3d.utility.Vector3iVector(triangles.astype(np.int32)))
    mesh.vertex_colors = o3d.utility.Vector3dVector(rgb)
    with atomic_path(path) as tmp:
        ok = o3d.io.write_triangle_mesh(tmp, mesh, write_ascii=False,
                                        write_vertex_normals=False, write_vertex_colors=True)
        if not ok or os.path.getsize(tmp) == 0:
            raise Img2MeshError(f"could not write mesh file: {path}", file=path,
                                hint="check free disk space and permissions", kind="output")


def write_ply(path, vertices, triangles, colors):
    """Binary little-endian PLY: float x y z, uchar red green blue, faces as uchar count +
    int indices -- the layout Blender, open3d, trimesh and MeshLab read.  Written from
    numpy in one go (open3d's writer stores doubles and costs its import, ~0.6 s)."""
    vert = np.empty(len(vertices), [("xyz", "<f4", 3), ("rgb", "u1", 3)])
    vert["xyz"] = vertices
    vert["rgb"] = np.clip(np.rint(colors), 0, 255)
    face = np.empty(len(triangles), [("n", "u1"), ("idx", "<i4", 3)])
    face["n"] = 3
    face["idx"] = triangles
    header = ("ply\nformat binary_little_endian 1.0\ncomment made by blender_img2mesh\n"
              f"element vertex {len(vert)}\nproperty float x\nproperty float y\n"
              "property float z\nproperty uchar red\nproperty uchar green\n"
              f"property uchar blue\nelement face {len(face)}\n"
              "property list uchar int vertex_indices\nend_header\n")
    with open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(vert.tobytes())
        fh.write(face.tobytes())


def write_json(path, data):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
