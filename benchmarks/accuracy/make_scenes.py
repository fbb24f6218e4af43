"""Ground-truth scenes for the accuracy benchmark (``python -m benchmarks.accuracy``).

    .venv-blender/bin/python -m benchmarks.accuracy.make_scenes [--out bench_data]
        [--size 512x384] [--only sphere,torus] [--samples 200000]

Runs with Blender as a Python module (``bpy``; Debian's ``blender -b -P
benchmarks/accuracy/make_scenes.py`` works too, with ``--`` before the options).  Deterministic: the same files every run (fixed geometry,
cameras and random seeds; Workbench rendering).  About a minute for all views.

Objects (all about 2 units across, centred on the origin, Z up):

* ``sphere``  -- UV sphere, 64 x 32 (smooth)
* ``box``     -- a 1.6 x 1.0 x 0.8 box with bevelled edges (Bevel modifier, 3 segments)
* ``torus``   -- major radius 1, minor 0.28 (a thin ring with a hole seen through)
* ``table``   -- a table top on four thin legs (thin parts, open gaps)
* ``suzanne`` -- Blender's monkey, Subdivision Surface level 2 (concave eyes and ears)
* ``bowl``    -- an open hemisphere made solid with a Solidify modifier (concave inside)

each seen from two to four viewpoints (among them the sphere from its pole and the torus
along its axis: silhouettes where the surface grazes the view all round, the grid
mesher's hardest rims).  Per view, a folder ``<object>-<view>/`` holds

* ``image.png``  -- RGBA render (Workbench, film transparent: alpha is the mask)
* ``depth.npy``  -- float32 HxW true depth along the camera's optical axis (the camera
  frame's z), 0 where no surface is hit
* ``gt.npz``     -- ``vertices``/``triangles`` of the evaluated mesh (modifiers applied)
  in the camera frame; ``whole_points``/``whole_normals``: points sampled uniformly by
  area on the whole surface (outward face normals); ``visible_points``/``visible_normals``:
  those of a larger sample that the camera sees (first hit of the ray from the camera and
  inside the image)
* ``view.json``  -- size, ``fov_deg`` (across the longer side: Blender's sensor fit Auto,
  the pipeline's ``--fov``), focal length in pixels, the camera's world matrix, counts.

Camera frame = the pipeline's ``--frame camera``: x right, y down, z forward (OpenCV),
i.e. Blender's camera space with y and z negated.  Pixel ``(u, v)`` (column, row from the
top) has its centre at ``(u + 0.5, v + 0.5)``; the principal point is the image centre.

Depth is computed exactly by ray casting the evaluated mesh (``mathutils.bvhtree``) through
every pixel centre, not read from a render pass: no compositor (whose API changed between
Blender 3 and 5), no anti-aliased or filtered depth at edges, and the definition is ours.
Checked (``tests/blender/test_bench_scenes.py``): the ray-cast depth equals the analytic
depth of a sphere and a plane; the render's alpha is the ray-cast silhouette (so the fov
and pixel-centre conventions are Blender's renderer's); and Blender's ``Z`` pass of a
perspective camera is the same depth along the view axis, not the distance along the
ray (Blender 5.0: Workbench within ~1e-4 units at 5 units, EEVEE ~1e-3; 1e10 where
nothing is hit; in 5.0 a multilayer EXR needs ``image_settings.media_type =
"MULTI_LAYER_IMAGE"`` first -- one of the API changes avoided here).
"""

import argparse
import json
import math
import os
import sys
import time

import bpy  # first: bmesh and mathutils come with it
import bmesh
import numpy as np
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree

# Blender camera space (x right, y up, looking down -z) -> the pipeline's camera frame
BLENDER_CAM_TO_CV = Matrix(((1, 0, 0, 0), (0, -1, 0, 0), (0, 0, -1, 0), (0, 0, 0, 1)))
BORDER_PX = 24  # keep the object this far from the image edge (the prototype crops 16)


# ------------------------------------------------------------------------------- objects

def _object(name, bm, color, smooth=False):
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    if smooth:
        mesh.shade_smooth()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.color = (*color, 1.0)
    return obj


def _box(bm, lo, hi):
    geom = bmesh.ops.create_cube(bm, size=1.0)
    for v in geom["verts"]:
        v.co = Vector([lo[i] + (v.co[i] + 0.5) * (hi[i] - lo[i]) for i in range(3)])


def make_sphere():
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=64, v_segments=32, radius=1.0)
    return _object("sphere", bm, (0.8, 0.3, 0.25), smooth=True)


def make_box():
    bm = bmesh.new()
    _box(bm, (-0.8, -0.5, -0.4), (0.8, 0.5, 0.4))
    obj = _object("box", bm, (0.3, 0.5, 0.8))
    mod = obj.modifiers.new("bevel", "BEVEL")
    mod.width, mod.segments = 0.08, 3
    return obj


def make_torus(major=1.0, minor=0.28, nu=64, nv=24):
    bm = bmesh.new()
    verts = []
    for i in range(nu):
        a = 2 * math.pi * i / nu
        for j in range(nv):
            b = 2 * math.pi * j / nv
            r = major + minor * math.cos(b)
            verts.append(bm.verts.new((r * math.cos(a), r * math.sin(a),
                                       minor * math.sin(b))))
    for i in range(nu):
        for j in range(nv):
            i1, j1 = (i + 1) % nu, (j + 1) % nv
            bm.faces.new([verts[i * nv + j], verts[i1 * nv + j], verts[i1 * nv + j1],
                          verts[i * nv + j1]])
    bmesh.ops.recalc_face_normals(bm, faces=bm.faces)
    return _object("torus", bm, (0.85, 0.7, 0.2), smooth=True)


def make_table():
    bm = bmesh.new()
    _box(bm, (-0.9, -0.55, 0.25), (0.9, 0.55, 0.35))  # top
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * 0.78, sy * 0.43
            _box(bm, (x - 0.05, y - 0.05, -0.75), (x + 0.05, y + 0.05, 0.25))
    return _object("table", bm, (0.55, 0.4, 0.3))


def make_suzanne():
    bm = bmesh.new()
    bmesh.ops.create_monkey(bm)
    obj = _object("suzanne", bm, (0.6, 0.6, 0.55), smooth=True)
    mod = obj.modifiers.new("subsurf", "SUBSURF")
    mod.levels = mod.render_levels = 2
    return obj


def make_bowl():
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=64, v_segments=32, radius=1.0)
    bmesh.ops.delete(bm, geom=[v for v in bm.verts if v.co.z > 1e-6], context="VERTS")
    obj = _object("bowl", bm, (0.35, 0.7, 0.45), smooth=True)
    obj.location.z = 0.5  # centre the 1-high bowl on the origin
    mod = obj.modifiers.new("solidify", "SOLIDIFY")
    mod.thickness, mod.offset = 0.08, -1.0  # inward
    return obj


# (name, maker, views as (azimuth deg, elevation deg, fov deg across the longer side))
SCENES = (
    ("sphere", make_sphere, ((30, 10, 40), (-60, 35, 55), (0, 90, 50))),
    ("box", make_box, ((35, 25, 40), (-20, 50, 50), (110, 10, 35))),
    ("torus", make_torus, ((20, 55, 45), (-40, 30, 40), (80, 75, 50), (0, 90, 45))),
    ("table", make_table, ((30, 20, 45), (-70, 35, 40))),
    ("suzanne", make_suzanne, ((-90, 5, 40), (-50, 20, 45), (-130, 15, 40))),
    ("bowl", make_bowl, ((20, 45, 45), (-60, 65, 40))),
)


# -------------------------------------------------------------------------------- camera

def look_at_camera(scene, target, radius, azimuth, elevation, fov_deg, width, height):
    """A camera on a sphere around ``target`` looking at it, far enough that a ball of
    ``radius`` stays ``BORDER_PX`` inside the frame.  Sensor fit Auto: ``fov_deg`` is
    across the longer side."""
    cam_data = bpy.data.cameras.new("camera")
    cam_data.sensor_fit = "AUTO"
    cam_data.angle = math.radians(fov_deg)
    cam_data.clip_start, cam_data.clip_end = 0.01, 1000.0
    cam = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(cam)
    f = focal_px(width, height, fov_deg)
    half = math.atan((0.5 * min(width, height) - BORDER_PX) / f)
    dist = radius / math.sin(half)
    az, el = math.radians(azimuth), math.radians(elevation)
    direction = Vector((math.cos(el) * math.cos(az), math.cos(el) * math.sin(az),
                        math.sin(el)))
    cam.location = Vector(target) + dist * direction
    cam.rotation_euler = (-direction).to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    bpy.context.view_layer.update()
    return cam


def focal_px(width, height, fov_deg):
    """The pipeline's convention (``camera.focal_px``): fov across the longer side."""
    return 0.5 * max(width, height) / math.tan(math.radians(fov_deg) / 2.0)


def world_to_camera(cam):
    """4x4 matrix: world -> the pipeline's camera frame (x right, y down, z forward)."""
    return BLENDER_CAM_TO_CV @ cam.matrix_world.inverted()


# ------------------------------------------------------------------------ geometry truth

def evaluated_triangles(obj, matrix):
    """(vertices Nx3, triangles Mx3) of ``obj`` with modifiers applied, in the frame
    ``matrix`` @ world (float64)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    mesh.calc_loop_triangles()
    co = np.empty(len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", co)
    tri = np.empty(len(mesh.loop_triangles) * 3, np.int64)
    mesh.loop_triangles.foreach_get("vertices", tri)
    ev.to_mesh_clear()
    m = np.array(matrix @ obj.matrix_world)
    v = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
    return v, tri.reshape(-1, 3)


def bvh(vertices, triangles):
    return BVHTree.FromPolygons([Vector(p) for p in vertices], triangles.tolist(),
                                all_triangles=True, epsilon=0.0)


def pixel_rays(width, height, f):
    """Unnormalised ray directions (HxWx3, z = 1) through the pixel centres."""
    u = (np.arange(width) + 0.5 - 0.5 * width) / f
    v = (np.arange(height) + 0.5 - 0.5 * height) / f
    rays = np.ones((height, width, 3))
    rays[..., 0] = u[None, :]
    rays[..., 1] = v[:, None]
    return rays


def raycast_depth(tree, vertices, width, height, f):
    """True depth (camera z) per pixel centre, 0 where the ray misses; exact up to the
    BVH's float32 arithmetic.  Only pixels inside the mesh's projected box are cast."""
    depth = np.zeros((height, width), np.float32)
    front = vertices[vertices[:, 2] > 1e-6]
    uv = front[:, :2] / front[:, 2:3] * f + 0.5 * np.array([width, height])
    u0, v0 = np.clip(np.floor(uv.min(0)).astype(int) - 1, 0, [width, height])
    u1, v1 = np.clip(np.ceil(uv.max(0)).astype(int) + 2, 0, [width, height])
    rays = pixel_rays(width, height, f)
    origin = Vector((0.0, 0.0, 0.0))
    cast = tree.ray_cast
    for v in range(v0, v1):
        row = rays[v]
        for u in range(u0, u1):
            hit = cast(origin, Vector(row[u]))[0]
            if hit is not None:
                depth[v, u] = hit[2]
    return depth


def sample_surface(vertices, triangles, n, rng):
    """``n`` points uniformly by area on the triangles, with the face normals."""
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    area = 0.5 * np.linalg.norm(cross, axis=1)
    face = rng.choice(len(triangles), size=n, p=area / area.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    w = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)
    pts = w[:, :1] * a[face] + w[:, 1:2] * b[face] + w[:, 2:] * c[face]
    normals = cross[face] / np.maximum(2.0 * area[face][:, None], 1e-30)
    return pts, normals


def visible(tree, points, width, height, f):
    """Which points the camera at the origin sees: inside the image and the first surface
    hit along the ray through them."""
    z = points[:, 2]
    uv = points[:, :2] / np.maximum(z, 1e-12)[:, None] * f + 0.5 * np.array([width, height])
    ok = (z > 1e-6) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & \
        (uv[:, 1] < height)
    origin = Vector((0.0, 0.0, 0.0))
    dist = np.linalg.norm(points, axis=1)
    for i in np.flatnonzero(ok):
        hit = tree.ray_cast(origin, Vector(points[i]))
        ok[i] = hit[0] is not None and hit[3] >= dist[i] * (1.0 - 1e-5) - 1e-6
    return ok


# ------------------------------------------------------------------------------ the scene

def setup_render(scene, width, height):
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.image_settings.color_depth = "8"
    scene.view_settings.view_transform = "Standard"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "OBJECT"
    shading.show_cavity = True
    scene.display.render_aa = "8"


def build_view(maker, azimuth, elevation, fov, width, height):
    """A fresh scene with the object and the camera; returns (object, camera)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    setup_render(scene, width, height)
    obj = maker()
    bpy.context.view_layer.update()
    v, _ = evaluated_triangles(obj, Matrix.Identity(4))
    centre = 0.5 * (v.min(0) + v.max(0))
    radius = float(np.linalg.norm(v - centre, axis=1).max())
    cam = look_at_camera(scene, centre, radius, azimuth, elevation, fov, width, height)
    return obj, cam


def render_png(path):
    scene = bpy.context.scene
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)


def make_view(folder, name, maker, view, width, height, n_samples, seed):
    azimuth, elevation, fov = view
    obj, cam = build_view(maker, azimuth, elevation, fov, width, height)
    os.makedirs(folder, exist_ok=True)
    render_png(os.path.join(folder, "image.png"))
    f = focal_px(width, height, fov)
    V, T = evaluated_triangles(obj, world_to_camera(cam))
    Vw, _ = evaluated_triangles(obj, Matrix.Identity(4))
    size = Vw.max(0) - Vw.min(0)  # the object's own box (world axes), view-independent
    tree = bvh(V, T)
    depth = raycast_depth(tree, V, width, height, f)
    rng = np.random.default_rng(seed)
    P, N = sample_surface(V, T, n_samples, rng)
    seen = visible(tree, P, width, height, f)
    whole = slice(0, n_samples // 2)
    np.save(os.path.join(folder, "depth.npy"), depth)
    np.savez_compressed(os.path.join(folder, "gt.npz"), vertices=V.astype(np.float32),
                        triangles=T.astype(np.int32),
                        whole_points=P[whole].astype(np.float32),
                        whole_normals=N[whole].astype(np.float32),
                        visible_points=P[seen].astype(np.float32),
                        visible_normals=N[seen].astype(np.float32))
    info = {"object": name, "view": [azimuth, elevation], "width": width, "height": height,
            "fov_deg": fov, "focal_px": f, "principal_point": [0.5 * width, 0.5 * height],
            "depth": "camera z (along the optical axis), 0 = no surface",
            "frame": "camera: x right, y down, z forward (pipeline --frame camera)",
            "camera_matrix_world": [list(r) for r in cam.matrix_world],
            "vertices": len(V), "triangles": len(T), "whole_points": whole.stop,
            "visible_points": int(seen.sum()), "object_pixels": int((depth > 0).sum()),
            "depth_range": [float(depth[depth > 0].min()), float(depth.max())],
            "object_size": size.tolist(), "object_diagonal": float(np.linalg.norm(size)),
            "bbox_min": V.min(0).tolist(), "bbox_max": V.max(0).tolist(), "seed": seed}
    with open(os.path.join(folder, "view.json"), "w") as fh:
        json.dump(info, fh, indent=1)
    return info


def main(argv=None):
    if argv is None:
        argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="bench_data", help="output folder (default: %(default)s)")
    p.add_argument("--size", default="512x384", help="render size WxH (default: %(default)s)")
    p.add_argument("--only", default="", help="comma-separated object names")
    p.add_argument("--samples", type=int, default=200000,
                   help="surface samples per view (half kept as the whole-object set; "
                   "the visible ones of all as the visible set)")
    args = p.parse_args(argv)
    width, height = (int(x) for x in args.size.lower().split("x"))
    only = {s for s in args.only.split(",") if s}
    os.makedirs(args.out, exist_ok=True)
    index = []
    for k, (name, maker, views) in enumerate(SCENES):
        if only and name not in only:
            continue
        for j, view in enumerate(views):
            t0 = time.perf_counter()
            key = f"{name}-{j + 1}"
            info = make_view(os.path.join(args.out, key), name, maker, view, width, height,
                             args.samples, seed=1000 * k + j)
            index.append(key)
            print(f"{key}: fov {view[2]} deg, {info['object_pixels']} object pixels, "
                  f"{info['visible_points']} visible points, "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
    with open(os.path.join(args.out, "index.json"), "w") as fh:
        json.dump({"views": index, "size": [width, height], "maker":
                   "benchmarks/accuracy/make_scenes.py", "blender": bpy.app.version_string},
                  fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
