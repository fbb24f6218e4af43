"""Small multi-view test sets rendered without Blender: a solid-textured object (its colour a
smooth 3D noise of the position, lit by a fixed light: the same point has the same colour
in every view) ray-cast with open3d from known cameras on rings around and above it, on a
plain background.

``render_set(folder, shape="cup", views=16, size=(320, 240))`` writes ``view_XX.png`` (RGB),
``view_XX_mask.png`` and ``cameras.json`` in the sidecar's convention (keyed by file name:
``K`` 3x3 px, ``R`` 3x3, ``t`` 3, world to camera, OpenCV axes, world Z up) and returns
``(paths, cameras, mesh)`` -- ``mesh`` the true surface as an open3d ``TriangleMesh``.
"""

import json
import os

import numpy as np
from PIL import Image

BACKGROUND = (235, 235, 235)
LIGHT = np.array([0.4, -0.5, 0.75])


def _shape(kind):
    import trimesh

    if kind == "box":
        parts = [trimesh.creation.box((0.9, 0.6, 0.5))]
    elif kind == "cup":  # open top: its inside is a concavity the upper views see
        wall = trimesh.creation.annulus(r_min=0.36, r_max=0.45, height=0.7, sections=96)
        bottom = trimesh.creation.cylinder(radius=0.37, height=0.12, sections=96)
        bottom.apply_translation((0, 0, -0.29))
        parts = [wall, bottom]
    else:
        raise ValueError(kind)
    mesh = trimesh.util.concatenate(parts)
    return mesh


def look_at(centre, target, up=(0.0, 0.0, 1.0)):
    """World-to-camera ``R, t`` (OpenCV axes: x right, y down, z forward)."""
    centre, target = np.asarray(centre, float), np.asarray(target, float)
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ centre


def ring_cameras(views, size, distance=2.6, fov=40.0, seed=0):
    """``views`` cameras: two thirds on a ring 25 degrees up, the rest 55 degrees up."""
    w, h = size
    f = 0.5 * w / np.tan(np.radians(fov) / 2)
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    low = int(round(views * 2 / 3))
    cams = []
    rng = np.random.default_rng(seed)
    for i in range(views):
        elev = np.radians(25 if i < low else 55)
        k, n = (i, low) if i < low else (i - low, views - low)
        az = 2 * np.pi * k / n + (0.0 if i < low else np.pi / n) + rng.uniform(-0.05, 0.05)
        c = distance * np.array([np.cos(elev) * np.cos(az), np.cos(elev) * np.sin(az),
                                 np.sin(elev)])
        R, t = look_at(c, (0, 0, 0.0))
        cams.append((K, R, t))
    return cams


def _noise(points, seed=3):
    """Smooth colour noise of 3D position (two octaves of interpolated random grids)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    out = np.zeros((len(points), 3))
    for cells, amp in ((9, 0.5), (23, 0.3), (61, 0.25)):
        grid = rng.uniform(0, 1, (3, cells, cells, cells))
        idx = ((points + 0.6) / 1.2 * (cells - 1)).T
        for c in range(3):
            out[:, c] += amp * ndimage.map_coordinates(grid[c], idx, order=1, mode="nearest")
    lo, hi = out.min(axis=0), out.max(axis=0)
    return 0.1 + 0.85 * (out - lo) / np.maximum(hi - lo, 1e-9)


def render(mesh, K, R, t, size, plain=False):
    """(rgb uint8 HxWx3, mask bool HxW) of the solid-textured ``mesh`` (trimesh)."""
    import open3d as o3d

    w, h = size
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, np.float32)),
                        o3d.core.Tensor(np.asarray(mesh.faces, np.uint32)))
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    d_cam = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    d = d_cam.reshape(-1, 3) @ R  # camera -> world directions
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    origin = -R.T @ t
    rays = np.concatenate([np.broadcast_to(origin, d.shape), d], 1).astype(np.float32)
    hit = scene.cast_rays(o3d.core.Tensor(rays))
    dist = hit["t_hit"].numpy()
    mask = np.isfinite(dist)
    pts = origin + d[mask] * dist[mask, None]
    normals = hit["primitive_normals"].numpy()[mask]
    normals *= -np.sign(np.einsum("ij,ij->i", normals, d[mask]))[:, None]  # towards the eye
    light = LIGHT / np.linalg.norm(LIGHT)
    shade = 0.55 + 0.45 * np.clip(normals @ light, 0, 1)
    rgb = np.empty((h * w, 3))
    rgb[:] = np.array(BACKGROUND) / 255
    rgb[mask] = (np.array([0.6, 0.3, 0.2]) if plain else _noise(pts)) * shade[:, None]
    return (np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8).reshape(h, w, 3),
            mask.reshape(h, w))


def render_set(folder, shape="cup", views=16, size=(320, 240), masks=True, alpha=False,
               plain=False):
    """``alpha``: RGBA photos (the mask in their alpha channel); ``plain``: one flat colour
    instead of the texture (nothing for SIFT to find)."""
    os.makedirs(folder, exist_ok=True)
    mesh = _shape(shape)
    cams = ring_cameras(views, size)
    paths, cameras = [], {}
    for i, (K, R, t) in enumerate(cams):
        rgb, mask = render(mesh, K, R, t, size, plain)
        name = f"view_{i:02d}.png"
        pixels = np.dstack([rgb, mask.astype(np.uint8) * 255]) if alpha else rgb
        Image.fromarray(pixels).save(os.path.join(folder, name))
        if masks:
            Image.fromarray(mask.astype(np.uint8) * 255).save(
                os.path.join(folder, f"view_{i:02d}_mask.png"))
        paths.append(os.path.join(folder, name))
        cameras[name] = {"K": K.tolist(), "R": R.tolist(), "t": t.tolist()}
    with open(os.path.join(folder, "cameras.json"), "w") as fh:
        json.dump({"cameras": cameras}, fh, indent=1)
    return paths, cameras, mesh


if __name__ == "__main__":
    import sys

    render_set(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "cup",
               int(sys.argv[3]) if len(sys.argv) > 3 else 16)
