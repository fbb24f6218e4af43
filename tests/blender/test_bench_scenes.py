"""The benchmark's scene maker (benchmarks/accuracy/make_scenes.py) against analytic truth:
ray-cast depth of a sphere and a tilted plane vs their closed-form depth, the render's
alpha vs the ray-cast silhouette (same fov and pixel-centre conventions as Blender's own
renderer), Blender's Z pass vs the ray-cast depth (both along the optical axis), and the
visible share of sampled surface points vs the spherical cap a camera sees."""

import math
import subprocess

import bmesh
import bpy
import numpy as np
import pytest
from mathutils import Vector

import helpers
from benchmarks.accuracy import make_scenes as mbs  # the repository is on sys.path (conftest.py)

W, H, FOV, R = 160, 120, 50.0, 1.0


def erode(mask, iterations=1):
    """4-neighbour binary erosion (this venv has no scipy); outside counts as False."""
    m = mask.copy()
    for _ in range(iterations):
        p = np.pad(m, 1)
        m = m & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m
PLANE_Z, PLANE_TILT = -1.2, 0.3  # the plane's height and its tilt about X (radians)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Sphere (r = 1 at the origin) over a tilted plane, seen from above at an angle;
    rendered (Workbench, with the Z pass) and ray cast."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    sc = bpy.context.scene
    mbs.setup_render(sc, W, H)
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=128, v_segments=64, radius=R)
    sphere = mbs._object("sphere", bm, (0.8, 0.3, 0.3), smooth=True)
    bm = bmesh.new()
    bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=4.0)
    plane = mbs._object("plane", bm, (0.3, 0.3, 0.8))
    plane.location = (0.0, 0.0, PLANE_Z)
    plane.rotation_euler = (PLANE_TILT, 0.0, 0.0)
    cam = mbs.look_at_camera(sc, (0, 0, 0), 1.1, 30, 25, FOV, W, H)
    folder = tmp_path_factory.mktemp("bench_scene")
    mbs.render_png(str(folder / "image.png"))
    bpy.context.view_layer.use_pass_z = True
    settings = sc.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5: multilayer is a media type first
        settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    sc.render.image_settings.color_depth = "32"
    mbs.render_png(str(folder / "passes.exr"))
    m = mbs.world_to_camera(cam)
    Vs, Ts = mbs.evaluated_triangles(sphere, m)
    Vp, Tp = mbs.evaluated_triangles(plane, m)
    V, T = np.vstack([Vs, Vp]), np.vstack([Ts, Tp + len(Vs)])
    tree = mbs.bvh(V, T)
    f = mbs.focal_px(W, H, FOV)
    depth = mbs.raycast_depth(tree, V, W, H, f)
    return dict(folder=folder, cam=cam, m=m, f=f, depth=depth, tree=tree, Vs=Vs, Ts=Ts)


def analytic(s):
    """Closed-form depth (camera z) of the sphere and of the infinite plane per pixel."""
    rays = mbs.pixel_rays(W, H, s["f"])  # z = 1, so the ray parameter t is the depth
    c = np.array(s["m"] @ Vector((0, 0, 0)))
    dd = np.einsum("hwc,hwc->hw", rays, rays)
    dc = rays @ c
    disc = dc ** 2 - dd * (c @ c - R * R)
    z_sphere = np.where(disc >= 0, (dc - np.sqrt(np.maximum(disc, 0))) / dd, np.inf)
    normal_w = bpy.data.objects["plane"].matrix_world.to_3x3() @ Vector((0, 0, 1))
    n = np.array(s["m"].to_3x3() @ normal_w)
    p0 = np.array(s["m"] @ Vector((0, 0, PLANE_Z)))
    z_plane = (n @ p0) / (rays @ n)
    return z_sphere, np.where(z_plane > 0, z_plane, np.inf)


def test_raycast_depth_is_the_analytic_depth_of_sphere_and_plane(scene):
    z_sphere, z_plane = analytic(scene)
    depth = scene["depth"]
    on_sphere = erode(np.isfinite(z_sphere), iterations=2)
    on_plane = erode((depth > 0) & ~np.isfinite(z_sphere), iterations=2)
    assert on_sphere.sum() > 1500 and on_plane.sum() > 1500
    err_s = np.abs(depth[on_sphere] - z_sphere[on_sphere])
    # a 128 x 64 polygon sphere is within ~5e-4 r of the true one (more at grazing rays)
    assert np.median(err_s) < 5e-4 and err_s.max() < 5e-3
    err_p = np.abs(depth[on_plane] - z_plane[on_plane])
    assert err_p.max() < 1e-4 * z_plane[on_plane].max()
    # and it is depth along the optical axis, not the distance along the ray
    u = (np.arange(W) + 0.5 - 0.5 * W) / scene["f"]
    ray_len = z_sphere * np.sqrt(1 + u[None, :] ** 2)
    corner = on_sphere & (np.abs(u)[None, :] > 0.2)
    assert np.all(np.abs(depth[corner] - ray_len[corner]) > 5 * err_s.max())


def test_render_alpha_is_the_raycast_silhouette(scene):
    img = bpy.data.images.load(str(scene["folder"] / "image.png"))
    rgba = np.empty(W * H * 4, np.float32)
    img.pixels.foreach_get(rgba)
    alpha = rgba.reshape(H, W, 4)[::-1, :, 3] >= 0.5  # Blender's rows start at the bottom
    hit = scene["depth"] > 0
    outline = int((hit & ~erode(hit)).sum())
    assert outline > 100
    # the same fov and pixel centres as Blender's renderer: a few anti-aliasing ties at
    # most; half a pixel off would differ along most of the outline
    assert (alpha ^ hit).sum() <= 0.05 * outline
    assert (alpha ^ np.roll(hit, 1, axis=1)).sum() > 0.3 * outline


def test_blender_z_pass_is_depth_along_the_view_axis(scene):
    """Read back with the pipeline's Python (OpenEXR); this venv has no EXR reader."""
    out = scene["folder"] / "z.npy"
    code = ("import sys, numpy as np, OpenEXR\n"
            "f = OpenEXR.File(sys.argv[1])\n"
            "ch = {k: c for p in f.parts for k, c in p.channels.items()}\n"
            "z = [c for k, c in ch.items() if k.endswith('Depth.Z')][0]\n"
            "np.save(sys.argv[2], np.asarray(z.pixels, np.float64))\n")
    subprocess.run([helpers.PIPELINE_PYTHON, "-c", code, str(scene["folder"] / "passes.exr"),
                    str(out)], check=True, timeout=60)
    zpass = np.load(out)
    depth = scene["depth"]
    inner = erode(depth > 0, iterations=2)
    assert np.median(np.abs(zpass[inner] - depth[inner])) < 1e-3
    assert np.all(zpass[erode(depth == 0, 2)] > 1e3)  # no surface: "far"


def test_visible_samples_are_the_cap_the_camera_sees(scene):
    rng = np.random.default_rng(0)
    P, N = mbs.sample_surface(scene["Vs"], scene["Ts"], 50000, rng)
    c = np.array(scene["m"] @ Vector((0, 0, 0)))
    assert np.allclose(np.linalg.norm(P - c, axis=1), R, atol=2e-3)
    assert np.all(np.einsum("ij,ij->i", N, P - c) > 0)  # outward normals
    seen = mbs.visible(scene["tree"], P, W, H, scene["f"])
    # a camera at distance D sees the cap with cos(angle) > r / D: (1 - r/D) / 2 of it
    share = (1 - R / np.linalg.norm(c)) / 2
    assert abs(seen.mean() - share) < 0.01
    # every seen point is on the cap: its height towards the camera above the centre
    # is at least r^2 / D (the limb circle's), up to one facet (2 pi / 128) at the limb
    D = np.linalg.norm(c)
    h = (P[seen] - c) @ (-c / D)
    assert np.all(h > R * R / D - 0.05) and np.mean(h < R * R / D) < 0.02
    assert math.isclose(mbs.focal_px(W, H, FOV), 0.5 * W / math.tan(math.radians(FOV / 2)))
