"""The parts of the multi-view surface that decide where its evidence ends: the ground
under the object (the hull's wedge below it cut away), the silhouettes' tolerance and its
slack, the gaps in a depth map filled inside a concavity, and the holes a segmenter
filled opened again."""

import multiview_scene as scene
import numpy as np
import open3d as o3d

from blender_img2mesh.pipeline.mask import segment
from blender_img2mesh.pipeline.multiview import colmap, hull, stereo, surface
from blender_img2mesh.pipeline.multiview.cameras import Camera


def _look_at(centre, size=(320, 240), focal=300.0):
    """An upright camera at ``centre`` looking at the origin."""
    R, t = scene.look_at(centre, (0.0, 0.0, 0.0))
    return Camera([[focal, 0, size[0] / 2], [0, focal, size[1] / 2], [0, 0, 1]], R, t, size)


def _ring(count=12, elevation=35.0, distance=6.0):
    out = []
    for k in range(count):
        az, el = np.radians(360.0 * k / count), np.radians(elevation)
        out.append(_look_at(distance * np.array([np.cos(el) * np.cos(az),
                                                 np.cos(el) * np.sin(az), np.sin(el)])))
    return out


def _box_on_a_wedge(apex=-0.3):
    """A closed mesh: the box [-1, 1]^2 x [0, 1] whose bottom is a shallow pyramid down to
    ``apex`` (what a visual hull of photos from above hangs under a box), subdivided."""
    V = np.array([[x, y, z] for z in (0.0, 1.0) for y in (-1.0, 1.0) for x in (-1.0, 1.0)]
                 + [[0.0, 0.0, apex]])
    hull_mesh, _ = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(V)).compute_convex_hull()
    hull_mesh.orient_triangles()
    hull_mesh = hull_mesh.subdivide_midpoint(4)
    V, F = np.asarray(hull_mesh.vertices), np.asarray(hull_mesh.triangles, np.int64)
    a, b, c = (V[F[:, i]] for i in range(3))
    if np.einsum("ij,ij->i", a, np.cross(b, c)).sum() < 0:  # outward, as marching cubes
        F = F[:, ::-1]
    return V, F


def test_the_ground_is_the_lowest_seen_part_not_the_wedge_below():
    verts, faces = _box_on_a_wedge()
    cams = _ring()
    up, low = surface.ground(cams, (verts, faces))
    assert np.allclose(up, (0, 0, 1), atol=1e-6)
    assert -1e-9 <= low <= 1 / 16 + 1e-9  # the bottom edge (a row of the mesh), not the apex
    seen = surface.visible_vertices(verts, faces, cams)
    assert not seen[verts[:, 2] < -0.1].any()  # the wedge faces no camera squarely
    assert seen[verts[:, 2] > 0.999].all()  # the top does
    # photos not taken upright (cameras rolled every way): no common up, no ground
    rolled = []
    for k, cam in enumerate(cams):
        a = 2 * np.pi * k / len(cams)
        roll = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        rolled.append(Camera(cam.K, roll @ cam.R, roll @ cam.t, cam.size))
    assert surface.ground(rolled, (verts, faces)) is None


def test_one_mask_cuts_no_deeper_than_the_slack():
    cams = [_look_at(np.array([0.0, -5.0, 0.0]))] * 3
    f = cams[0].K[0, 0]
    maps = [np.full((240, 320), 10.0, np.float32)] + [np.full((240, 320), -5.0, np.float32)] * 2
    point = np.zeros((1, 3))  # 5 units in front of each camera
    alone = hull.hull_distance(point, cams, maps)[0]
    outvoted = hull.hull_distance(point, cams, maps, tolerance=1)[0]
    bounded = hull.hull_distance(point, cams, maps, tolerance=1, slack=0.05)[0]
    assert np.isclose(alone, 10 * 5 / f) and np.isclose(outvoted, -5 * 5 / f)
    assert np.isclose(bounded, -5 * 5 / f + 0.05)
    # a small cut (a flat side seen edge-on by one view) is kept whole
    maps[0][:] = -4.0
    assert np.isclose(hull.hull_distance(point, cams, maps, tolerance=1, slack=0.05)[0],
                      -4 * 5 / f)


def _bowl(h=60, w=80):
    y, x = np.mgrid[0:h, 0:w]
    return (3.0 - 0.0004 * ((x - w / 2) ** 2 + (y - h / 2) ** 2)).astype(np.float32)


def test_a_gap_the_measured_depths_enclose_is_filled_smoothly():
    y, x = np.mgrid[0:60, 0:80]
    truth = (3.0 + 0.01 * x - 0.005 * y).astype(np.float32)  # a plane: filled exactly
    region = np.zeros(truth.shape, bool)
    region[5:55, 5:75] = True
    depth = np.where(region, truth, np.nan)
    depth[20:40, 25:55] = np.nan  # enclosed
    depth[5:15, 60:75] = np.nan  # reaches the outline
    out, filled = stereo.fill_enclosed(depth, region)
    assert filled[20:40, 25:55].all() and filled.sum() == 20 * 30
    assert np.abs(out[20:40, 25:55] - truth[20:40, 25:55]).max() < 1e-3
    assert np.isnan(out[5:15, 60:75]).all()
    assert np.array_equal(out[~filled & region], depth[~filled & region], equal_nan=True)


def test_a_gap_is_filled_only_inside_a_concavity_the_hull_does_not_see():
    truth = _bowl()
    region = np.ones(truth.shape, bool)
    region[[0, -1]] = region[:, [0, -1]] = False
    depth = np.where(region, truth, np.nan)
    depth[20:40, 25:55] = np.nan
    tight = truth - 0.01  # the hull on the surface: a convex part
    _, filled = stereo.fill_enclosed(depth, region, tight, margin=0.1)
    assert not filled.any()
    behind = truth - 1.0  # the measured edge far behind the hull: a cup's inside
    out, filled = stereo.fill_enclosed(depth, region, behind, margin=0.1)
    assert filled[20:40, 25:55].all()


def test_a_gap_behind_a_near_rim_is_filled_from_its_far_edge():
    """A view into a cup: the gap (its dark bottom) is edged by the far wall on three
    sides and by the near rim, a unit nearer, on the fourth.  The rim hides the bottom:
    the fill must follow the far edge, not sag towards the rim."""
    y, x = np.mgrid[0:60, 0:80]
    truth = (5.0 + 0.002 * x).astype(np.float32)
    truth[20:40, 15:25] = 4.0  # the near rim, left of the gap
    region = np.zeros(truth.shape, bool)
    region[5:55, 5:75] = True
    depth = np.where(region, truth, np.nan)
    depth[20:40, 25:55] = np.nan  # 20 of its 100 edge pixels are the rim's
    behind = truth - 1.0  # the hull far in front: a concavity
    out, filled = stereo.fill_enclosed(depth, region, behind, margin=0.1)
    assert filled[20:40, 25:55].all()
    assert np.abs(out[20:40, 25:55] - (5.0 + 0.002 * x[20:40, 25:55])).max() < 0.02
    plain, _ = stereo.fill_enclosed(depth, region)  # no hull: every edge pixel counts
    assert plain[20:40, 25:30].mean() < 4.8


def _ring_photo(hole_colour=(235, 235, 235), size=160, seed=0):
    """A textured ring on a plain background (slightly noisy, as a render or a photo)."""
    rng = np.random.default_rng(seed)
    img = np.clip(rng.normal(235, 1.5, (size, size, 3)), 0, 255)
    y, x = np.mgrid[0:size, 0:size]
    r = np.hypot(x - size / 2, y - size / 2)
    ring = (r < 60) & (r >= 25)
    img[ring] = rng.uniform(20, 160, (ring.sum(), 3))
    img[r < 25] = np.clip(rng.normal(hole_colour, 1.5, ((r < 25).sum(), 3)), 0, 255)
    return img.astype(np.uint8), ring, r < 60


def test_a_hole_the_segmenter_filled_is_opened_where_the_background_shows():
    photo, ring, filled_mask = _ring_photo()
    opened = segment.open_holes(photo, filled_mask)
    assert np.count_nonzero(opened & ring) / np.count_nonzero(opened | ring) > 0.97
    # a dark patch inside the object is the object
    photo, ring, disc = _ring_photo(hole_colour=(40, 30, 30))
    assert np.array_equal(segment.open_holes(photo, disc), disc)


def test_colmap_sees_a_dark_object_with_its_levels_stretched():
    rng = np.random.default_rng(0)
    dark = rng.integers(10, 40, (40, 50, 3)).astype(np.uint8)
    mask = np.zeros((40, 50), bool)
    mask[5:35, 5:45] = True
    out = colmap.stretched(dark, mask)
    assert out[mask].min() <= 5 and out[mask].max() >= 250
    order = np.argsort(dark[mask][:, 0], kind="stable")  # (levels keep their order)
    assert (np.diff(out[mask][:, 0][order].astype(int)) >= 0).all()


def test_a_views_silhouette_keeps_its_outline_and_holes():
    from blender_img2mesh.pipeline import stages
    from blender_img2mesh.pipeline.job import MaskSpec

    photo, ring, _ = _ring_photo()
    alpha = ring.astype(np.uint8) * 255
    mask, source = stages.make_mask(MaskSpec(), "ring.png", photo, alpha, None,
                                    silhouette=True)
    assert source == "alpha" and np.array_equal(mask, ring)
    single, _ = stages.make_mask(MaskSpec(), "ring.png", photo, alpha, None)
    assert single.sum() < ring.sum() and not (single & ~ring).any()  # (eroded for depth)
