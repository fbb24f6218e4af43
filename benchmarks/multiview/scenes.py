"""Ground truth for the multi-view benchmark (``python -m benchmarks.multiview``):
textured objects rendered by Cycles (CPU) from known cameras.

    .venv-blender/bin/python -m benchmarks.multiview.scenes [--out bench_data/multiview]
        [--only mug,torus] [--size 640x480] [--views 30] [--heldout 4] [--samples 48]
        [--small]            # 14 views of the mug at 320 x 240 into OUT/small (a quick set)

Blender as a Python module (``bpy``).  Deterministic: fixed geometry, cameras, textures
and Cycles seed.  The textures are photos of scikit-image times colour noise
(``benchmarks/multiview/textures.py``, run once with ``--python``, default
``$IMG2MESH_PYTHON`` or ``.venv/bin/python``: bpy's Python has no scikit-image).

Objects (about 1.2-2 units across, centred on the origin, Z up):

* ``mug``   -- a cylinder cup, open at the top (its inside is seen from above), with a
  ring handle (a hole seen through): a boolean of a cylinder, a torus and the cavity
* ``torus`` -- a ring lying flat (a hole)
* ``box``   -- a bevelled box (convex)
* ``lblock`` -- an L-shaped block (a concave corner a visual hull fills)

Every set folder (``OUT/<object>/``; ``OUT/small/`` for ``--small``) holds::

    images/view_NN.png    RGB, the object on a plain light-grey background
    masks/view_NN.png     the true mask (8-bit, 255 = object: rendered alpha >= 0.5)
    cameras.json          {"view_NN.png": {"K": 3x3, "R": 3x3, "t": 3}, ...}
    heldout/images, heldout/masks, heldout/cameras.json   views never given to the tool
    mesh.ply              the true mesh (binary PLY, world frame, triangles)
    scene.json            object, size, focal, background, the views, conventions

Cameras: the convention of the sidecar's ``"cameras"`` object (COLMAP's): ``x_cam = R @
X_world + t`` in OpenCV axes (x right, y down, z forward); ``K = [[f, 0, cx], [0, f,
cy], [0, 0, 1]]`` in pixels with ``(cx, cy) = (W/2, H/2)`` where the top-left pixel's
centre is ``(0.5, 0.5)`` (COLMAP's pixel convention; OpenCV's would be ``W/2 - 0.5``).
World = Blender's world: Z up, units of the mesh.  Cameras on three rings around and
above the object (jittered), looking at its centre, upright (no roll), one focal
length for all views (45 degrees across the longer side).
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import bpy  # first: mathutils comes with it
import numpy as np
from mathutils import Matrix, Vector

from ..accuracy import make_scenes
from .objects import OBJECTS, evaluated_triangles, texture_material

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BLENDER_CAM_TO_CV = Matrix(((1, 0, 0, 0), (0, -1, 0, 0), (0, 0, -1, 0), (0, 0, 0, 1)))
BACKGROUND = (235, 235, 235)  # plain light grey (sRGB bytes)
FOV_DEG = 45.0
BORDER = 0.08  # the bounding sphere stays this share of the shorter side inside the frame


# ------------------------------------------------------------------------------ files

def write_png(path, array):
    """8-bit PNG of an HxW (grey) or HxWx3 (RGB) uint8 array (zlib; no Pillow here)."""
    a = np.ascontiguousarray(array, np.uint8)
    h, w = a.shape[:2]
    colour = 0 if a.ndim == 2 else 2
    raw = b"".join(b"\x00" + a[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data +
                struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8,
                                                                      colour, 0, 0, 0)) +
                 chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def write_ply(path, vertices, triangles):
    """Binary little-endian PLY of a triangle mesh."""
    v = np.asarray(vertices, "<f4")
    t = np.asarray(triangles, "<i4")
    faces = np.zeros(len(t), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    faces["n"], faces["i"] = 3, t
    head = ("ply\nformat binary_little_endian 1.0\nelement vertex %d\n"
            "property float x\nproperty float y\nproperty float z\nelement face %d\n"
            "property list uchar int vertex_indices\nend_header\n" % (len(v), len(t)))
    with open(path, "wb") as fh:
        fh.write(head.encode("ascii") + v.tobytes() + faces.tobytes())


def read_rgba(path):
    """HxWx4 uint8 of an 8-bit PNG through bpy (rows top to bottom)."""
    img = bpy.data.images.load(path)
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return np.round(px.reshape(h, w, 4)[::-1] * 255).astype(np.uint8)


def ensure_textures(folder, python):
    """The texture PNGs in ``folder``, made by ``benchmarks.multiview.textures`` run with
    ``python`` if any is missing."""
    names = ("astronaut", "coffee", "chelsea", "rocket", "hubble")
    paths = {n: os.path.join(folder, n + ".png") for n in names}
    if not all(os.path.exists(p) for p in paths.values()):
        env = dict(os.environ, PYTHONPATH=REPO)
        subprocess.run([python, "-m", "benchmarks.multiview.textures", folder], check=True,
                       env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    return paths


# ----------------------------------------------------------------------------- render

def setup_scene(width, height, samples):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    make_scenes.setup_render(sc, width, height)  # size, RGBA PNG, film transparent
    sc.render.engine = "CYCLES"
    sc.cycles.device = "CPU"
    sc.cycles.samples = samples
    sc.cycles.use_denoising = False  # OIDN costs ~10 s a frame on 2 cores
    sc.cycles.seed = 0
    sc.cycles.max_bounces = 2
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.7, 0.7, 0.7, 1)
    sc.world = world
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy, sun.data.angle = 3.0, math.radians(15)
    sun.rotation_euler = (math.radians(40), 0, math.radians(30))  # fixed in the world
    sc.collection.objects.link(sun)
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    cam.data.sensor_fit = "AUTO"  # the angle is across the longer side
    cam.data.angle = math.radians(FOV_DEG)
    cam.data.clip_start, cam.data.clip_end = 0.01, 1000.0
    sc.collection.objects.link(cam)
    sc.camera = cam
    return sc, cam


def focal_px(width, height):
    return 0.5 * max(width, height) / math.tan(math.radians(FOV_DEG) / 2)


def place_camera(cam, target, distance, azimuth, elevation):
    az, el = math.radians(azimuth), math.radians(elevation)
    direction = Vector((math.cos(el) * math.cos(az), math.cos(el) * math.sin(az),
                        math.sin(el)))
    cam.location = Vector(target) + distance * direction
    cam.rotation_euler = (-direction).to_track_quat("-Z", "Y").to_euler()
    bpy.context.view_layer.update()


def camera_json(cam, f, width, height):
    """{"K", "R", "t"}: world -> OpenCV camera (COLMAP's convention); R made exactly
    orthonormal (Blender's matrices are single precision)."""
    m = np.array(BLENDER_CAM_TO_CV @ cam.matrix_world.inverted(), np.float64)
    U, _, Vt = np.linalg.svd(m[:3, :3])
    return {"K": [[f, 0.0, 0.5 * width], [0.0, f, 0.5 * height], [0.0, 0.0, 1.0]],
            "R": (U @ Vt).tolist(), "t": m[:3, 3].tolist()}


def view_plan(n_views, n_heldout, seed):
    """(given, heldout): lists of (azimuth, elevation, distance factor).  Given views on
    three rings (low, middle, high; about 40/33/27 % of them), jittered; held-out views
    between the rings and at azimuths no given view has."""
    rng = np.random.default_rng(seed)
    counts = [round(n_views * 0.4), round(n_views * 0.33)]
    counts.append(n_views - sum(counts))
    given = []
    for ring, (count, elev) in enumerate(zip(counts, (12.0, 35.0, 60.0))):
        for k in range(count):
            az = 360.0 * (k + 0.5 * ring) / count + rng.uniform(-4, 4)
            given.append((az, elev + rng.uniform(-3, 3), rng.uniform(0.95, 1.1)))
    held = [(24.0 + 360.0 * k / max(n_heldout, 1) + 7.0 * k, (22.0, 47.0, 8.0, 72.0)[k % 4],
             1.0) for k in range(n_heldout)]
    return given, held


def render_set(folder, name, size, n_views, n_heldout, samples, textures, seed=0):
    width, height = size
    sc, cam = setup_scene(width, height, samples)
    maker, texture = OBJECTS[name]
    obj = maker()
    V, T = evaluated_triangles(obj)
    texture_material(obj, textures[texture], V.min(0), V.max(0))
    centre = 0.5 * (V.min(0) + V.max(0))
    radius = float(np.linalg.norm(V - centre, axis=1).max())
    f = focal_px(width, height)
    half = math.atan((0.5 - BORDER) * min(width, height) / f)
    base = radius / math.sin(half)
    os.makedirs(folder, exist_ok=True)
    write_ply(os.path.join(folder, "mesh.ply"), V, T)
    given, held = view_plan(n_views, n_heldout, seed)
    tmp = tempfile.mkdtemp(prefix="mv_render_")
    listing = {}
    for sub, views, prefix in (("", given, "view"), ("heldout", held, "held")):
        cams = {}
        for d in ("images", "masks"):
            os.makedirs(os.path.join(folder, sub, d), exist_ok=True)
        for k, (az, el, dist) in enumerate(views):
            place_camera(cam, centre, base * dist, az, el)
            sc.render.filepath = os.path.join(tmp, "render.png")
            bpy.ops.render.render(write_still=True)
            rgba = read_rgba(sc.render.filepath).astype(np.float32)
            alpha = rgba[..., 3:] / 255.0
            rgb = rgba[..., :3] * alpha + np.array(BACKGROUND, np.float32) * (1 - alpha)
            file = f"{prefix}_{k:02d}.png"
            write_png(os.path.join(folder, sub, "images", file),
                      np.clip(rgb + 0.5, 0, 255).astype(np.uint8))
            write_png(os.path.join(folder, sub, "masks", file),
                      np.where(alpha[..., 0] >= 0.5, 255, 0).astype(np.uint8))
            cams[file] = camera_json(cam, f, width, height)
            cams[file]["view"] = {"azimuth_deg": az, "elevation_deg": el,
                                  "distance": base * dist}
        write_json(os.path.join(folder, sub, "cameras.json"), cams)
        listing[sub or "given"] = sorted(cams)
    os.remove(os.path.join(tmp, "render.png"))
    os.rmdir(tmp)
    size3 = V.max(0) - V.min(0)
    info = {"object": name, "width": width, "height": height, "fov_deg": FOV_DEG,
            "focal_px": f, "background_srgb": list(BACKGROUND), "up": [0, 0, 1],
            "texture": texture, "samples": samples, "vertices": len(V), "triangles": len(T),
            "bbox_min": V.min(0).tolist(), "bbox_max": V.max(0).tolist(),
            "diagonal": float(np.linalg.norm(size3)), "views": listing["given"],
            "heldout": listing["heldout"], "blender": bpy.app.version_string,
            "maker": "benchmarks/multiview/scenes.py",
            "cameras": "x_cam = R X_world + t, OpenCV axes; K in px, top-left pixel "
                       "centre (0.5, 0.5) (COLMAP)"}
    write_json(os.path.join(folder, "scene.json"), info)  # last: the set is complete
    return info


def write_json(path, data):
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join("bench_data", "multiview"))
    p.add_argument("--only", default="", help="comma-separated objects: " + ",".join(OBJECTS))
    p.add_argument("--size", default="640x480")
    p.add_argument("--views", type=int, default=30)
    p.add_argument("--heldout", type=int, default=4)
    p.add_argument("--samples", type=int, default=48, help="Cycles samples per pixel")
    p.add_argument("--small", action="store_true",
                   help="only the quick set: the mug, 14 views + 2 held out, 320x240, "
                   "into OUT/small")
    p.add_argument("--python", default=os.environ.get("IMG2MESH_PYTHON") or
                   os.path.join(REPO, ".venv", "bin", "python"),
                   help="a Python with scikit-image, for the textures")
    # ``blender -b -P`` passes the script's options after ``--``
    args = p.parse_args(sys.argv[sys.argv.index("--") + 1:] if argv is None and "--" in
                        sys.argv else argv)
    textures = ensure_textures(os.path.join(args.out, "textures"), args.python)
    if args.small:
        jobs = [("small", "mug", (320, 240), 14, 2)]
    else:
        size = tuple(int(x) for x in args.size.lower().split("x"))
        names = [n for n in args.only.split(",") if n] or list(OBJECTS)
        jobs = [(n, n, size, args.views, args.heldout) for n in names]
    for folder, name, size, n_views, n_held in jobs:
        t0 = time.perf_counter()
        info = render_set(os.path.join(args.out, folder), name, size, n_views, n_held,
                          args.samples, textures)
        print(f"{folder}: {name}, {len(info['views'])} views + {len(info['heldout'])} "
              f"held out at {size[0]}x{size[1]}, {info['triangles']} triangles, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
