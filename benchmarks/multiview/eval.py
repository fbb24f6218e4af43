"""The multi-view benchmark's measures (``python -m benchmarks.multiview``): a set's
ground truth, the similarity alignment on camera centres, the surface no view sees, the
F-scores, and held-out views rendered from a coloured mesh (PSNR, silhouette IoU).

A set folder is what ``benchmarks/multiview/scenes.py`` writes (images/, masks/,
cameras.json, heldout/, mesh.ply, scene.json).  Cameras everywhere in the sidecar's
convention: ``{"K", "R", "t"}``, ``x_cam = R X + t`` in OpenCV axes, K in pixels with the
top-left pixel's centre at (0.5, 0.5) -- the convention of ``pipeline/output/render``'s
``through_camera`` too (principal point at the image centre).
"""

import json
import os

import numpy as np

from ..accuracy import metrics
from ..accuracy.fidelity import psnr
from blender_img2mesh.pipeline.output import render

F_LABELS = {"1%": 0.01, "2%": 0.02}  # F-score thresholds, shares of the bbox diagonal


def read_json(path):
    with open(path) as fh:
        return json.load(fh)


def load_set(folder):
    """The set's truth: dict with ``scene`` (scene.json), ``cameras`` and ``heldout``
    ({file: {"K", "R", "t"} as arrays}), ``vertices``/``triangles`` (true mesh, world),
    ``folder``."""
    def cams(path):
        return {name: {k: np.asarray(c[k], np.float64) for k in ("K", "R", "t")}
                for name, c in read_json(path).items()}
    V, T = metrics.load_mesh(os.path.join(folder, "mesh.ply"))
    return {"folder": folder, "scene": read_json(os.path.join(folder, "scene.json")),
            "cameras": cams(os.path.join(folder, "cameras.json")),
            "heldout": cams(os.path.join(folder, "heldout", "cameras.json")),
            "vertices": V, "triangles": T}


def read_image(path):
    from PIL import Image

    return np.asarray(Image.open(path))


def centre(cam):
    """The camera's centre in world coordinates: ``-R^T t``."""
    return -cam["R"].T @ cam["t"]


def umeyama(src, dst):
    """Similarity ``dst ~ s R src + t`` by least squares (Umeyama 1991): (s, R, t)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    U, D, Vt = np.linalg.svd(b.T @ a / len(src))
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[2, 2] = -1
    R = U @ S @ Vt
    s = float(np.trace(np.diag(D) @ S) / max(a.var(0).sum(), 1e-300))
    return s, R, mu_d - s * R @ mu_s


def align(result_cams, truth_cams):
    """Similarity from the result's frame to the truth's, fitted on the centres of the
    cameras both have; returns (s, R, t, names used, centre errors in world units)."""
    names = sorted(set(result_cams) & set(truth_cams))
    if len(names) < 3:
        raise ValueError(f"only {len(names)} cameras to align on")
    src = np.array([centre(result_cams[n]) for n in names])
    dst = np.array([centre(truth_cams[n]) for n in names])
    s, R, t = umeyama(src, dst)
    err = np.linalg.norm((s * src @ R.T + t) - dst, axis=1)
    return s, R, t, names, err


def seen_share(V, T, cameras, size, n=200000, seed=0):
    """Share of the true surface (``n`` area-uniform samples) that at least one camera
    sees: inside its image and the first hit of the ray from its centre."""
    import open3d as o3d

    P, _ = metrics.sample_mesh(V, T, n, seed=seed)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(np.asarray(V, np.float32), np.asarray(T, np.uint32))
    W, H = size
    seen = np.zeros(len(P), bool)
    for cam in cameras.values():
        x = P @ cam["R"].T + cam["t"]
        uv = x[:, :2] / np.maximum(x[:, 2:3], 1e-12) * cam["K"][0, 0] + cam["K"][:2, 2]
        inside = (x[:, 2] > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & \
            (uv[:, 1] < H)
        c = centre(cam)
        d = P - c
        dist = np.linalg.norm(d, axis=1)
        rays = np.hstack([np.broadcast_to(c, d.shape), d / dist[:, None]]).astype(np.float32)
        hit = scene.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
        seen |= inside & (hit >= dist * (1 - 1e-4) - 1e-6)
    return float(seen.mean())


def f_ceiling(seen):
    """The F-score of a method exact on the seen surface and absent elsewhere:
    precision 1, recall ``seen``."""
    return 2 * seen / (1 + seen)


def geometry(V, T, truth, n=200000):
    """F@1%, F@2% (of the true bbox diagonal), Chamfer etc. of a world-frame mesh."""
    diag = truth["scene"]["diagonal"]
    P, Pn = metrics.sample_mesh(V, T, n, seed=1)
    Q, Qn = metrics.sample_mesh(truth["vertices"], truth["triangles"], n, seed=2)
    return metrics.score(P, Pn, Q, Qn, {k: v * diag for k, v in F_LABELS.items()})


def view(V, T, cam, size, uv=None, image=None, colors=None, background=None):
    """The world-frame mesh through ``cam``: (HxWx3 float 0..255 with ``background``
    where nothing is hit, hit mask HxW)."""
    W, H = size
    Vc = np.asarray(V, np.float64) @ cam["R"].T + cam["t"]
    rgb, hit = render.through_camera(Vc, T, cam["K"][0, 0], W, H, uv=uv, image=image,
                                     colors=colors)
    if background is not None:
        rgb[~hit] = background
    return rgb, hit


def heldout(V, T, truth, uv=None, image=None, colors=None):
    """Per held-out view: PSNR inside the true silhouette (the render's background where
    the mesh misses) and silhouette IoU; returns (rows, renders {file: uint8 image})."""
    scene = truth["scene"]
    size, bg = (scene["width"], scene["height"]), scene["background_srgb"]
    rows, renders = [], {}
    for name, cam in sorted(truth["heldout"].items()):
        folder = os.path.join(truth["folder"], "heldout")
        photo = read_image(os.path.join(folder, "images", name))[..., :3]
        mask = read_image(os.path.join(folder, "masks", name)) > 127
        rgb, hit = view(V, T, cam, size, uv, image, colors, background=bg)
        iou = np.count_nonzero(mask & hit) / max(1, np.count_nonzero(mask | hit))
        rows.append({"view": name, "psnr": psnr(rgb[mask], photo[mask]), "iou": iou})
        renders[name] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return rows, renders


def load_result(path):
    """(vertices, triangles, uv, texture image, vertex colours) of a result mesh (PLY with
    its texture, as the pipeline writes it; trimesh)."""
    import trimesh

    mesh = trimesh.load(path, process=False, force="mesh")
    V, T = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)
    uv = image = colors = None
    visual = mesh.visual
    if getattr(visual, "uv", None) is not None and getattr(visual, "material", None) \
            is not None and getattr(visual.material, "image", None) is not None:
        uv = np.asarray(visual.uv, np.float64)
        image = np.asarray(visual.material.image.convert("RGB"))
    elif getattr(visual, "vertex_colors", None) is not None:
        colors = np.asarray(visual.vertex_colors, np.float64)[:, :3]
    return V, T, uv, image, colors
