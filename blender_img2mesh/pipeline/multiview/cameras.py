"""Pinhole cameras of a multi-view job, the sidecar's camera convention, and the frame the
mesh is written in.

Convention (COLMAP's, and the sidecar's ``"cameras"``): ``x_cam = R @ X + t`` takes a
world point to the camera (OpenCV axes: x right, y down, z forward); ``K`` (3x3, pixels)
projects it: pixel ``K @ x_cam / z``, with pixel ``i``'s centre at ``i + 0.5`` (so a
camera scaled to another image size is ``K[:2] * s``).  A JSON file of cameras is
``{"cameras": {FILE_NAME: {"K": ..., "R": ..., "t": ...}}}`` (or the inner object alone).
"""

import json
import os

import numpy as np

from ..errors import Img2MeshError


def apply(M, points):
    """``points @ M.T`` for (..., 3) points, column by column (a 3x3 product is no work for
    BLAS, whose threads only cost here: 0.2 s instead of 2 ms for 100k points)."""
    p = np.asarray(points)
    p = p if p.dtype == np.float32 else p.astype(np.float64, copy=False)  # (float32 stays)
    M = np.asarray(M, p.dtype)
    out = p[..., 0:1] * M[:, 0]
    out += p[..., 1:2] * M[:, 1]
    out += p[..., 2:3] * M[:, 2]
    return out


class Camera:
    """``K`` (3x3), ``R`` (3x3), ``t`` (3,) for an image of ``size`` (w, h) pixels."""

    def __init__(self, K, R, t, size):
        self.K = np.asarray(K, np.float64).reshape(3, 3)
        self.R = np.asarray(R, np.float64).reshape(3, 3)
        self.t = np.asarray(t, np.float64).reshape(3)
        self.size = (int(size[0]), int(size[1]))

    @property
    def centre(self):
        return -self.R.T @ self.t

    def scaled(self, size):
        """The same camera for the image resized to ``size`` (w, h)."""
        K = self.K.copy()
        K[0] *= size[0] / self.size[0]
        K[1] *= size[1] / self.size[1]
        K[2] = (0.0, 0.0, 1.0)
        return Camera(K, self.R, self.t, size)

    def to_camera(self, points):
        """World points (N, 3) in the camera's frame."""
        return apply(self.R, points) + self.t

    def project(self, points):
        """World points (N, 3) -> (pixels (N, 2), depth (N,)): ``K (R X + t)`` as one 3x3
        product and a shift, divided by its z (the camera's z: K's last row is 0, 0, 1)."""
        h = apply(self.K @ self.R, points)
        h += (self.K @ self.t).astype(h.dtype)
        z = h[:, 2]
        uv = h[:, :2] / np.where(np.abs(z) > 1e-12, z, 1e-12)[:, None]
        return uv, z

    def rays(self, shape):
        """Unit ray directions (world) of every pixel centre of an image ``shape`` (h, w)."""
        h, w = shape
        u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        Ki = np.linalg.inv(self.K)
        x = Ki[0, 0] * u + Ki[0, 1] * v + Ki[0, 2]
        y = Ki[1, 1] * v + Ki[1, 2]
        R = self.R  # camera -> world: R.T @ (x, y, 1)
        d = np.stack([x * R[0, i] + y * R[1, i] + R[2, i] for i in range(3)], -1).reshape(-1, 3)
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def as_dict(self, digits=8):
        return {"K": np.round(self.K, digits).tolist(), "R": np.round(self.R, digits).tolist(),
                "t": np.round(self.t, digits).tolist()}


def load_given(path, names, sizes):
    """Cameras from a JSON file for the photos ``names`` (file names) whose images are
    ``sizes`` (w, h) each.  ``K`` is for the photo's own size.  Photos the file does not
    list are returned in the second list."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise Img2MeshError(f"cannot read the cameras file: {exc.strerror or exc}",
                            file=path, hint="give a JSON file of cameras") from None
    except ValueError as exc:
        raise Img2MeshError(f"the cameras file is not valid JSON ({exc})", file=path,
                            hint="see docs: {\"cameras\": {NAME: {K, R, t}}}") from None
    table = data.get("cameras", data) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise Img2MeshError("the cameras file holds no \"cameras\" object", file=path,
                            hint="{\"cameras\": {\"photo.jpg\": {\"K\": 3x3, \"R\": 3x3, "
                            "\"t\": [x, y, z]}}}")
    cams, missing = {}, []
    for name, size in zip(names, sizes):
        entry = table.get(name)
        if entry is None:
            missing.append(name)
            continue
        try:
            K, R, t = (np.asarray(entry[k], np.float64) for k in ("K", "R", "t"))
            ok = K.shape == (3, 3) and R.shape == (3, 3) and t.shape == (3,) and \
                np.isfinite(K).all() and np.isfinite(R).all() and np.isfinite(t).all() and \
                abs(np.linalg.det(R) - 1.0) < 1e-3 and K[0, 0] > 0 and K[1, 1] > 0
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise Img2MeshError(f"the camera of {name} is not K (3x3, px), R (3x3 rotation), "
                                "t (3)", file=path, hint="world to camera, OpenCV axes")
        cams[name] = Camera(K, R, t, size)
    return cams, missing


def orientation(cameras, points, size):
    """``(Q, centre, scale)``: output = ``scale * (Q @ X - centre)``.  Up (+Z) is the
    cameras' mean up vector (photos taken upright), the first camera looks along +Y (it
    stands on the -Y side, as Blender's Front view), the points' bounding box is centred
    on the origin and its largest side is ``size``."""
    cams = list(cameras.values())
    up = -np.mean([c.R[1] for c in cams], axis=0)
    if np.linalg.norm(up) < 1e-6:
        up = -cams[0].R[1]
    z = up / np.linalg.norm(up)
    look = cams[0].R[2] - z * (cams[0].R[2] @ z)  # first view's direction, levelled
    if np.linalg.norm(look) < 1e-6:
        look = cams[0].R[0] - z * (cams[0].R[0] @ z)
    y = look / np.linalg.norm(look)
    x = np.cross(y, z)
    Q = np.stack([x, y, z])
    p = apply(Q, points)
    lo, hi = p.min(axis=0), p.max(axis=0)
    return Q, (lo + hi) / 2, size / max(float((hi - lo).max()), 1e-12)


def transform_points(points, frame):
    Q, centre, scale = frame
    return (apply(Q, points) - centre) * scale


def transform_camera(cam, frame, y_up=False):
    """The camera of the world seen in the output frame (the mesh's units); ``y_up``:
    the glTF file's axes (x, z, -y)."""
    Q, centre, scale = frame
    R = cam.R @ Q.T
    t = scale * (R @ centre + cam.t)
    if y_up:  # X_gltf = A @ X_out with A = [[1,0,0],[0,0,1],[0,-1,0]]
        A = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
        R = R @ A.T
    return Camera(cam.K, R, t, cam.size)


def sidecar(cameras, names, frame, y_up=False):
    """The sidecar's ``"cameras"`` object: each registered photo's camera in the written
    mesh's frame, keyed by file name (the photos' own sizes)."""
    return {os.path.basename(n): transform_camera(cameras[n], frame, y_up).as_dict()
            for n in names if n in cameras}
