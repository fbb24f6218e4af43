"""The multi-view ground truth (benchmarks/multiview/scenes.py): its cameras.json (the
sidecar's convention, COLMAP's) against Cycles' own render of the true mesh -- the mesh
ray cast through every pixel centre with K, R, t gives the rendered mask -- and the set's
layout (images on the plain background, held-out views apart, a closed true mesh)."""

import json
import os

import numpy as np
import pytest
from mathutils import Vector
from mathutils.bvhtree import BVHTree

import bpy
from benchmarks.multiview import scenes as mvs

W, H = 64, 48


def read_png(path):
    img = bpy.data.images.load(path)
    px = np.empty(img.size[0] * img.size[1] * 4, np.float32)
    img.pixels.foreach_get(px)
    out = px.reshape(img.size[1], img.size[0], 4)[::-1]
    bpy.data.images.remove(img)
    return out


def read_ply(path):
    with open(path, "rb") as fh:
        data = fh.read()
    head, body = data.split(b"end_header\n", 1)
    words = head.decode().split()
    nv = int(words[words.index("vertex") + 1])
    nf = int(words[words.index("face") + 1])
    V = np.frombuffer(body, "<f4", nv * 3).reshape(-1, 3).astype(np.float64)
    F = np.frombuffer(body[nv * 12:], np.dtype([("n", "u1"), ("i", "<i4", (3,))]), nf)
    assert (F["n"] == 3).all()
    return V, F["i"].astype(np.int64)


def grow(mask):
    """4-neighbour dilation by one pixel."""
    p = np.pad(mask, 1)
    return mask | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]


@pytest.fixture(scope="module")
def box_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("mv")
    tex = out / "textures"
    tex.mkdir()
    rng = np.random.default_rng(0)
    paths = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble"):
        paths[name] = str(tex / f"{name}.png")
        mvs.write_png(paths[name], rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    info = mvs.render_set(str(out / "box"), "box", (W, H), 3, 1, 4, paths)
    return out / "box", info


def test_cameras_cast_the_rendered_masks(box_set):
    folder, info = box_set
    V, T = read_ply(str(folder / "mesh.ply"))
    tree = BVHTree.FromPolygons([Vector(v) for v in V], T.tolist(), all_triangles=True)
    for sub in ("", "heldout"):
        with open(folder / sub / "cameras.json") as fh:
            cams = json.load(fh)
        for name, cam in cams.items():
            K, R, t = (np.array(cam[q]) for q in ("K", "R", "t"))
            assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) > 0
            C = -R.T @ t
            mask = read_png(str(folder / sub / "masks" / name))[..., 0] > 0.5
            hit = np.zeros((H, W), bool)
            for v in range(H):
                for u in range(W):  # the pixel centre (u + 0.5, v + 0.5), COLMAP's
                    d = R.T @ np.linalg.solve(K, [u + 0.5, v + 0.5, 1.0])
                    hit[v, u] = tree.ray_cast(Vector(C), Vector(d))[0] is not None
            iou = (mask & hit).sum() / (mask | hit).sum()
            assert iou > 0.9, (sub, name, iou)
            # they differ only along the edge (the render's anti-aliased alpha >= 0.5
            # against exact pixel centres), never a pixel away from it
            edge = grow(mask) & grow(~mask)
            assert not ((mask ^ hit) & ~edge).any(), (sub, name)


def test_layout_and_background(box_set):
    folder, info = box_set
    assert info["views"] == ["view_00.png", "view_01.png", "view_02.png"]
    assert info["heldout"] == ["held_00.png"] and info["width"] == W
    assert sorted(os.listdir(folder)) == ["cameras.json", "heldout", "images", "masks",
                                          "mesh.ply", "scene.json"]
    img = read_png(str(folder / "images" / "view_00.png"))
    mask = read_png(str(folder / "masks" / "view_00.png"))[..., 0] > 0.5
    assert img.shape == (H, W, 4) and mask.any() and not mask.all()
    # outside the object: exactly the plain background
    assert np.allclose(img[0, 0, :3] * 255, mvs.BACKGROUND, atol=0.5)
    V, T = read_ply(str(folder / "mesh.ply"))
    edges = np.sort(np.concatenate([T[:, [0, 1]], T[:, [1, 2]], T[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()  # closed: every edge has two faces
