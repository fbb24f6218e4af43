"""The cameras of a Views result (several photos -> one object) as Blender cameras, without
bpy: the sidecar's ``"cameras"`` (COLMAP's convention) -> camera-to-object matrices and
lens settings.

Sidecar convention (docs/protocol.md): per photo file name ``{"K", "R", "t"}`` with
``x_cam = R @ X + t`` in OpenCV axes (x right, y down, z forward), ``X`` in the written
mesh's frame and units, ``K`` in pixels with the top-left pixel's centre at (0.5, 0.5).
A Blender camera looks down its -Z with +Y up, so its axes are OpenCV's with y and z
negated: ``camera-to-object = [R^T | C] @ diag(1, -1, -1, 1)``, ``C = -R^T t``.
"""

import json
import os

#: Blender's default sensor width (mm); the lens is set from it
SENSOR_MM = 36.0
#: a Views job needs at least this many photos (the worker says the same)
MIN_VIEWS = 3


class ViewCamera:
    """One recovered camera: ``name`` (the photo's file name), ``photo`` (its path, or
    None when not among the photos given), ``matrix`` (4x4 row lists: camera -> object),
    ``lens`` (mm for a ``SENSOR_MM`` sensor, fitted to the longer side), ``shift`` (x, y:
    Blender's lens shift for the principal point), ``size`` (w, h) when known."""

    def __init__(self, name, photo, matrix, lens, shift, size=None):
        self.name, self.photo, self.matrix = name, photo, matrix
        self.lens, self.shift, self.size = lens, shift, size


def split_paths(text):
    """The panel's ``;``-separated list of photos and folders -> paths (no empties)."""
    return [p.strip() for p in (text or "").split(";") if p.strip()]


#: folder names that say nothing about the object: the name is their parent's
GENERIC_FOLDERS = {"images", "image", "photos", "pictures", "views", "frames", "input",
                   "inputs", "img", "imgs"}


def views_name(photos):
    """The object's name: the first photo's folder name, or its parent's when that is a
    generic name such as ``images`` (``"views"`` at the root)."""
    folder = os.path.dirname(os.path.abspath(photos[0])) if photos else ""
    name = os.path.basename(folder.rstrip("/\\"))
    if name.lower() in GENERIC_FOLDERS:
        name = os.path.basename(os.path.dirname(folder.rstrip("/\\"))) or name
    return name or "views"


def camera_to_object(R, t):
    """4x4 (row lists) camera -> object for world-to-camera ``R``, ``t`` (OpenCV axes)."""
    Rt = [[R[j][i] for j in range(3)] for i in range(3)]  # R^T
    C = [-sum(Rt[i][j] * t[j] for j in range(3)) for i in range(3)]
    flip = (1.0, -1.0, -1.0)  # Blender's camera axes: OpenCV's y and z negated
    return [[Rt[i][j] * flip[j] for j in range(3)] + [C[i]] for i in range(3)] + \
        [[0.0, 0.0, 0.0, 1.0]]


def lens_and_shift(K, size):
    """(lens mm, (shift_x, shift_y)) of a Blender camera (sensor fit Auto, ``SENSOR_MM``
    wide) that has ``K`` on an image of ``size`` (w, h) pixels.  Blender puts the
    principal point at ``(w/2 - shift_x * m, h/2 + shift_y * m)`` (rows down), ``m`` the
    longer side."""
    w, h = size
    m = float(max(w, h))
    fx = float(K[0][0])
    return fx / m * SENSOR_MM, ((0.5 * w - float(K[0][2])) / m, (float(K[1][2]) - 0.5 * h) / m)


def from_sidecar(data, photos, sizes=None):
    """The :class:`ViewCamera` list of a result or sidecar ``data`` (a dict with
    ``"cameras"``), sorted by name; ``photos``: the photo paths given (matched by file
    name); ``sizes``: {file name: (w, h)} (else the principal point's double, which is
    the size for a centred principal point)."""
    by_name = {os.path.basename(p): p for p in photos}
    out = []
    for name, cam in sorted((data or {}).get("cameras", {}).items()):
        K, R, t = cam["K"], cam["R"], cam["t"]
        size = (sizes or {}).get(name) or (round(2 * K[0][2]), round(2 * K[1][2]))
        lens, shift = lens_and_shift(K, size)
        out.append(ViewCamera(name, by_name.get(os.path.basename(name)),
                              camera_to_object(R, t), lens, shift, tuple(size)))
    return out


def read_cameras(result):
    """The ``"cameras"`` of a Views ``result`` event: from the event itself, else from its
    sidecar file; {} when neither has them."""
    result = result or {}
    if result.get("cameras"):
        return {"cameras": result["cameras"]}
    path = result.get("sidecar")
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            return {"cameras": json.load(fh).get("cameras", {})}
    return {}
