"""Geometry with known answers: depth maps of a plane and a sphere seen by a known camera
must give meshes on that plane / sphere, with the right colors and frames (the file
formats: test_mesh_formats.py; the scenes: geometry_scenes.py)."""

import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from blender_img2mesh.pipeline.geometry import camera
from blender_img2mesh.pipeline.errors import Img2MeshError

import geometry_scenes as scenes
from geometry_scenes import FOV, QUADS, SPHERE_C, SPHERE_R, H, W, pixels, sphere_args

quad_photo, sphere_map = scenes.quad_photo, scenes.sphere_map  # the shared fixtures


@pytest.fixture(scope="module")
def plane_map(tmp_path_factory, scene):
    """Depth (H x W) of the 3-D plane z = 2 + 0.3 x seen by the pipeline's camera."""
    f = scene.focal(W, H, FOV)
    a, _ = scene.pixel_rays(W, H, f)
    z = 2.0 / (1.0 - 0.3 * a)  # z = 2 + 0.3 * (a z)
    path = tmp_path_factory.mktemp("plane") / "plane.npy"
    np.save(path, z.astype(np.float32))
    return str(path), z


# ---------------------------------------------------------------- plane


def test_plane_vertices_lie_on_the_plane(tmp_path, run_job, quad_photo, plane_map,
                                         mesh_reader):
    npy, z = plane_map
    out = tmp_path / "plane.ply"
    result, _ = run_job([quad_photo, "-o", out, "--depth-map", npy, "--keep-background",
                         "--frame", "camera", "--fov", FOV, "--max-size", W,
                         "--poisson-depth", 6])
    assert result["depth_model"] == "depth-map" and result["depth_kind"] == "metric"
    assert result["fov_deg"] == pytest.approx(FOV)
    assert result["working_size"] == [W, H]
    V, T, _ = mesh_reader(out)
    size = np.ptp(V, axis=0).max()
    dist = np.abs(V[:, 2] - (2.0 + 0.3 * V[:, 0])) / np.sqrt(1.09)
    assert dist.max() < 0.01 * size, f"off the plane by {dist.max() / size:.2%} of its size"
    # and it spans the whole picture (the frustum at that depth), not a piece of it
    x_half = 0.5 * W / camera.focal_px(W, H, FOV) * 2.0
    assert np.ptp(V[:, 0]) > 0.9 * 2 * x_half
    # the outline reprojects into the picture
    _, _, uv = pixels(V)
    assert (uv > -1).all() and (uv[:, 0] < W + 1).all() and (uv[:, 1] < H + 1).all()


def test_colors_match_the_photo(tmp_path, run_job, quad_photo, plane_map, mesh_reader):
    npy, _ = plane_map
    out = tmp_path / "plane.ply"
    run_job([quad_photo, "-o", out, "--depth-map", npy, "--keep-background", "--frame",
             "camera", "--fov", FOV, "--max-size", W, "--poisson-depth", 6])
    V, _, C = mesh_reader(out)
    _, _, uv = pixels(V)
    margin = 3.0  # pixels of the working image around the quadrant borders
    left, right = uv[:, 0] < W / 2 - margin, uv[:, 0] > W / 2 + margin
    top, bottom = uv[:, 1] < H / 2 - margin, uv[:, 1] > H / 2 + margin
    rgb = C * 255.0
    for sel, want in ((top & left, 0), (top & right, 1), (bottom & left, 2),
                      (bottom & right, 3)):
        assert sel.sum() > 50
        nearest = np.argmin(((rgb[sel, None, :] - QUADS[None]) ** 2).sum(-1), axis=1)
        assert (nearest == want).all(), f"quadrant {want}: wrong colors"
        assert np.abs(rgb[sel] - QUADS[want]).max() < 40


def test_16bit_png_depth_map_is_millimetres(tmp_path, run_job, quad_photo, plane_map,
                                            mesh_reader):
    _, z = plane_map
    png = tmp_path / "plane_mm.png"
    Image.fromarray(np.round(z * 1000).astype(np.uint16)).save(png)
    out = tmp_path / "plane.ply"
    result, _ = run_job([quad_photo, "-o", out, "--depth-map", png, "--keep-background",
                         "--frame", "camera", "--fov", FOV, "--max-size", W,
                         "--poisson-depth", 6])
    assert result["depth_scale"] == pytest.approx(0.001)
    V, _, _ = mesh_reader(out)
    dist = np.abs(V[:, 2] - (2.0 + 0.3 * V[:, 0])) / np.sqrt(1.09)
    assert dist.max() < 0.01 * np.ptp(V, axis=0).max()


def test_depth_map_at_another_resolution_is_resized(tmp_path, run_job, quad_photo,
                                                    mesh_reader, scene):
    f = scene.focal(2 * W, 2 * H, FOV)
    a, _ = scene.pixel_rays(2 * W, 2 * H, f)
    npy = tmp_path / "plane2x.npy"
    np.save(npy, (2.0 / (1.0 - 0.3 * a)).astype(np.float32))
    out = tmp_path / "plane.ply"
    run_job([quad_photo, "-o", out, "--depth-map", npy, "--keep-background", "--frame",
             "camera", "--fov", FOV, "--max-size", W, "--poisson-depth", 6])
    V, _, _ = mesh_reader(out)
    dist = np.abs(V[:, 2] - (2.0 + 0.3 * V[:, 0])) / np.sqrt(1.09)
    assert dist.max() < 0.02 * np.ptp(V, axis=0).max()


def test_depth_map_of_wrong_aspect(tmp_path, run_job, quad_photo):
    npy = tmp_path / "square.npy"
    np.save(npy, np.full((100, 100), 2.0, np.float32))
    out = tmp_path / "x.ply"
    with pytest.raises(Img2MeshError, match="depth map is 100x100") as info:
        run_job([quad_photo, "-o", out, "--depth-map", npy, "--keep-background"])
    assert str(npy) in str(info.value)
    assert not out.exists()


def test_depth_map_with_no_positive_depth(tmp_path, run_job, quad_photo):
    npy = tmp_path / "zeros.npy"
    np.save(npy, np.zeros((H, W), np.float32))
    with pytest.raises(Img2MeshError, match="positive"):
        run_job([quad_photo, "-o", tmp_path / "x.ply", "--depth-map", npy,
                 "--keep-background", "--max-size", W])


# ---------------------------------------------------------------- sphere


@pytest.mark.parametrize("mesher, tolerance", [("grid", 1e-4), ("poisson", 0.01)])
def test_sphere_open_back(tmp_path, run_job, quad_photo, sphere_map, mesh_reader, mesher,
                          tolerance):
    _, _, zmap, hit = sphere_map
    out = tmp_path / "sphere.ply"
    result, _ = run_job(sphere_args(quad_photo, sphere_map, out, "--frame", "camera",
                                     "--mesher", mesher))
    assert result["mask"] == "mask" and result["back"] == "open"
    assert result["mesher"] == mesher
    V, T, _ = mesh_reader(out)
    assert len(T) > 500
    size = 2 * SPHERE_R
    off = np.abs(np.linalg.norm(V - np.array(SPHERE_C), axis=1) - SPHERE_R)
    inner = np.ones(len(V), bool)
    if mesher == "grid":
        # the grid's vertices are the measured points themselves, but for the outline's,
        # moved along it by at most half a pixel (its pixel steps smoothed away) and half
        # a pixel outward (from the pixel centres onto the mask's edge)
        e = np.sort(T[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
        edges, counts = np.unique(e, axis=0, return_counts=True)
        inner[edges[counts == 1].ravel()] = False
        pixel = V[~inner, 2] / camera.focal_px(W, H, FOV)
        assert (off[~inner] <= pixel * 1.01).all()
        assert np.median(off[~inner]) > 0.2 * np.median(pixel)  # it did move out
    # Poisson smooths
    assert np.percentile(off[inner], 95) < tolerance * size, "the mesh is not on the sphere"
    assert off[inner].max() < 5 * tolerance * size
    ui, vi, _ = pixels(V)
    # the outline stays inside the (slightly dilated) mask
    assert ndimage.binary_dilation(hit, iterations=2)[vi, ui].all()
    # no bubble: nothing behind the observed surface (the outline's vertices sit on the
    # mask's edge, up to a pixel from their own pixel: compare with the farthest surface
    # seen within a pixel)
    far = ndimage.maximum_filter(np.where(hit, zmap, -np.inf), size=3)
    far = np.where(np.isfinite(far), far, zmap)  # (off the object: its far depth)
    behind = V[:, 2] - far[vi, ui]
    assert behind.max() < 0.05 * size, f"{(behind > 0.05 * size).sum()} vertices behind"
    # only the visible (front) half of the sphere
    assert (V[:, 2] < SPHERE_C[2] + 0.02 * size).all()


def test_sphere_mirror_back_is_watertight(tmp_path, run_job, quad_photo, sphere_map,
                                          mesh_reader):
    _, _, zmap, hit = sphere_map
    out = tmp_path / "sphere.ply"
    result, _ = run_job(sphere_args(quad_photo, sphere_map, out, "--frame", "camera",
                                     "--back", "mirror"))
    V, T, _ = mesh_reader(out)
    # the mesh really has a back now (the test could tell an open one)
    ui, vi, _ = pixels(V)
    assert (V[:, 2] - zmap[vi, ui] > 0.2 * SPHERE_R).sum() > 0.2 * len(V)
    # vertices on the seam between seen and unseen faces are split (their UVs differ):
    # welded at their positions the surface is closed
    _, weld = np.unique(V.astype(np.float32), axis=0, return_inverse=True)
    assert len(np.unique(weld)) < len(V)  # there is a seam
    T = weld.ravel()[T]
    edges = np.sort(T[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    sidecar = json.loads((tmp_path / "sphere.json").read_text())
    assert sidecar["watertight"] == result["watertight"]
    assert (counts != 2).sum() == 0, f"{(counts != 2).sum()} open or non-manifold edges"
    assert result["watertight"] is True


def test_flat_back_is_closed(tmp_path, run_job, quad_photo, sphere_map, mesh_reader):
    out = tmp_path / "sphere.ply"
    result, _ = run_job(sphere_args(quad_photo, sphere_map, out, "--frame", "camera",
                                     "--back", "flat"))
    assert result["watertight"] is True
    V, _, _ = mesh_reader(out)
    # the back is a flat wall just behind the farthest observed point, as wide as the sphere
    back = V[V[:, 2] > V[:, 2].max() - 0.02 * SPHERE_R]
    assert len(back) > 0.1 * len(V)
    assert np.ptp(back[:, 0]) > 1.2 * SPHERE_R and np.ptp(back[:, 1]) > 1.2 * SPHERE_R
    assert V[:, 2].max() < SPHERE_C[2], "the flat back is behind the sphere's equator"


def test_open_back_is_not_watertight(tmp_path, run_job, quad_photo, sphere_map):
    result, _ = run_job(sphere_args(quad_photo, sphere_map, tmp_path / "s.ply",
                                     "--frame", "camera"))
    assert result["watertight"] is False


def test_blender_frame(tmp_path, run_job, quad_photo, sphere_map, mesh_reader):
    out = tmp_path / "sphere.ply"
    size = 3.0
    result, _ = run_job(sphere_args(quad_photo, sphere_map, out, "--size", size))
    assert result["frame"] == "blender" and result["size"] == size
    V, _, C = mesh_reader(out)
    lo, hi = V.min(axis=0), V.max(axis=0)
    assert lo[2] == pytest.approx(0.0, abs=1e-4), "does not rest on Z = 0"
    assert (hi - lo).max() == pytest.approx(size, rel=1e-4)
    assert (lo[0] + hi[0]) / 2 == pytest.approx(0.0, abs=1e-4)
    assert (lo[1] + hi[1]) / 2 == pytest.approx(0.0, abs=1e-4)
    np.testing.assert_allclose(result["bounds"], [lo, hi], atol=1e-4)
    # the photographed side faces -Y: the cap's middle is nearest the camera (smallest Y)
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[2] + hi[2]) / 2])
    radial = np.hypot(V[:, 0] - centre[0], V[:, 2] - centre[1])
    assert np.corrcoef(radial, V[:, 1])[0, 1] > 0.8
    assert radial[np.argmin(V[:, 1])] < 0.1 * size
    # Z is up and X is right: the photo's top-left quadrant (red) is at -X, +Z
    rgb = C * 255.0
    quad = np.argmin(((rgb[:, None, :] - QUADS[None]) ** 2).sum(-1), axis=1)
    mid_z = (lo[2] + hi[2]) / 2
    m = 0.2 * size  # the sphere is off the image centre: keep clear of the split lines
    assert (quad[(V[:, 0] < -m) & (V[:, 2] > mid_z + m)] == 0).mean() > 0.95
    assert (quad[(V[:, 0] > m) & (V[:, 2] < mid_z - m)] == 3).mean() > 0.95


def test_blender_frame_is_the_camera_frame_rotated(tmp_path, run_job, quad_photo, sphere_map,
                                                   mesh_reader):
    """Same job in both frames: Blender X = x, Y = z, Z = -y, up to scale and shift."""
    run_job(sphere_args(quad_photo, sphere_map, tmp_path / "cam.ply", "--frame", "camera"))
    run_job(sphere_args(quad_photo, sphere_map, tmp_path / "bl.ply", "--size", 2.0))
    Vc, _, _ = mesh_reader(tmp_path / "cam.ply")
    Vb, _, _ = mesh_reader(tmp_path / "bl.ply")
    want = np.stack([Vc[:, 0], Vc[:, 2], -Vc[:, 1]], axis=1)
    lo, hi = want.min(axis=0), want.max(axis=0)
    want = (want - [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]) * (2.0 / (hi - lo).max())
    # Poisson runs multithreaded, so the two meshes may differ in a few vertices: compare
    # the surfaces, not the vertex lists
    from scipy.spatial import cKDTree

    d1, _ = cKDTree(want).query(Vb)
    d2, _ = cKDTree(Vb).query(want)
    assert np.percentile(d1, 99) < 0.01 and np.percentile(d2, 99) < 0.01
    # facing +Y instead (a wrong sign) would be far off: a bowl, not a cap
    flipped = want * [1, -1, 1]
    d3, _ = cKDTree(flipped).query(Vb)
    assert np.percentile(d3, 50) > 0.05


def test_camera_location_sees_the_mesh_as_the_photo(tmp_path, run_job, quad_photo,
                                                    sphere_map, mesh_reader):
    """A camera at ``camera_location`` looking along +Y (Z up) with the result's fov
    projects the Blender-frame mesh onto the pixels its colors were taken from."""
    out = tmp_path / "sphere.ply"
    result, _ = run_job(sphere_args(quad_photo, sphere_map, out, "--size", 2.0))
    V, _, _ = mesh_reader(out)
    cam = np.asarray(result["camera_location"])
    assert cam[1] < V[:, 1].min(), "the camera must be in front (-Y) of the mesh"
    rel = V - cam  # back to the camera's axes: x = X, y = -Z, z = Y
    in_cam = np.stack([rel[:, 0], -rel[:, 2], rel[:, 1]], axis=1)
    _, _, uv = pixels(in_cam, fov=result["fov_deg"])
    _, mask_path, _, _ = sphere_map
    mask = np.asarray(Image.open(mask_path).convert("L")) >= 128
    ui = np.clip(uv[:, 0].astype(int), 0, W - 1)
    vi = np.clip(uv[:, 1].astype(int), 0, H - 1)
    near_mask = ndimage.binary_dilation(mask, iterations=3)
    assert near_mask[vi, ui].mean() > 0.99
    # and not trivially: a camera 20% farther away sees a smaller object
    far = np.stack([rel[:, 0], -rel[:, 2], rel[:, 1] * 1.2 + 0.5], axis=1)
    _, _, uv2 = pixels(far, fov=result["fov_deg"])
    assert np.ptp(uv2[:, 0]) < 0.9 * np.ptp(uv[:, 0])


def test_target_faces_decimates(tmp_path, run_job, quad_photo, sphere_map, mesh_reader):
    full, _ = run_job(sphere_args(quad_photo, sphere_map, tmp_path / "full.ply"))
    target = full["faces"] // 4
    small, _ = run_job(sphere_args(quad_photo, sphere_map, tmp_path / "small.ply",
                                    "--target-faces", target, "--frame", "camera"))
    assert small["faces"] <= target * 1.05
    assert small["faces"] >= target * 0.5
    V, T, _ = mesh_reader(tmp_path / "small.ply")
    assert len(T) == small["faces"]
    # still the sphere
    off = np.abs(np.linalg.norm(V - np.array(SPHERE_C), axis=1) - SPHERE_R)
    assert np.percentile(off, 95) < 0.02 * SPHERE_R * 2


def test_mirror_reflects_about_the_outline_depth():
    """A hemisphere (the visible half of a sphere) reflected about its outline's depth is
    the whole sphere; a point seen behind that plane (through a hole) is kept, not
    reflected in front of the object."""
    from blender_img2mesh.pipeline.geometry import surface

    rng = np.random.default_rng(0)
    d = rng.normal(size=(2000, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    d[:, 2] = -np.abs(d[:, 2])  # the half facing the camera (z toward it is negative)
    centre = np.array([0.0, 0.0, 3.0])
    front = centre + 0.5 * d
    behind = np.array([[0.0, 0.0, 3.4]])  # seen through a hole, behind the outline
    P = np.vstack([front, behind])
    N = np.vstack([d, [[0.0, 0.0, -1.0]]])
    P2, N2 = surface.add_back(P, N, "mirror", outline_depth=3.0)
    assert len(P2) == 2 * len(front) + 1
    off = np.abs(np.linalg.norm(P2 - centre, axis=1) - 0.5)
    assert off[:len(front)].max() < 1e-9 and off[len(P):].max() < 1e-9
    back = P2[len(P):]
    np.testing.assert_allclose(np.linalg.norm(back - centre, axis=1), 0.5, atol=1e-9)
    assert (back[:, 2] >= 3.0).all() and not np.isclose(back[:, 2], 3.0 - 0.4).any()
