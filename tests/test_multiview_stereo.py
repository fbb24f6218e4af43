"""The plane sweep (:func:`stereo.depth_map`) on a scene whose depth is known exactly: a
textured plane seen by a row of cameras, rendered here by intersecting each pixel's ray
with the plane and sampling the texture there."""

import multiview_scene as scene
import numpy as np
from scipy import ndimage

from blender_img2mesh.pipeline.multiview import stereo
from blender_img2mesh.pipeline.multiview.cameras import Camera, apply

SIZE = (160, 120)
FOCAL = 150.0


def _texture(seed=3, n=256):
    """A smooth random texture of the plane z = 0 over [-2, 2]^2 (grey levels 0..1)."""
    noise = np.random.default_rng(seed).random((n, n))
    tex = ndimage.gaussian_filter(noise, 2.0)
    return (tex - tex.min()) / (tex.max() - tex.min())


def _render(cam, tex, slope):
    """Grey image and true camera z of the plane ``z = slope * x`` (its texture painted
    along x and y) seen by ``cam``."""
    w, h = cam.size
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    rays = apply(cam.R.T @ np.linalg.inv(cam.K), np.stack([u, v, np.ones_like(u)], -1))
    c = cam.centre
    # c + s * ray on the plane z - slope * x = 0
    s = -(c[2] - slope * c[0]) / (rays[..., 2] - slope * rays[..., 0])
    X = c + s[..., None] * rays
    n = tex.shape[0]
    coords = [(X[..., 1] + 2) / 4 * (n - 1), (X[..., 0] + 2) / 4 * (n - 1)]
    gray = ndimage.map_coordinates(tex, coords, order=1, mode="reflect")
    z = (X - c) @ cam.R[2]
    return gray.astype(np.float32), z


def test_the_sweep_finds_a_slanted_plane_to_a_fraction_of_a_step():
    tex = _texture()
    cams = []
    for x in (-0.8, -0.4, 0.0, 0.4, 0.8):  # a row of cameras 3 units above the plane
        R, t = scene.look_at((x, -0.3, 3.0), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
        cams.append(Camera([[FOCAL, 0, SIZE[0] / 2], [0, FOCAL, SIZE[1] / 2], [0, 0, 1]],
                           R, t, SIZE))
    slope = 0.3
    rendered = [_render(c, tex, slope) for c in cams]
    grays = [g for g, _ in rendered]
    truth = rendered[2][1]
    near = np.full(truth.shape, 2.4, np.float32)
    far = np.full(truth.shape, 3.8, np.float32)
    valid = np.zeros(truth.shape, bool)
    valid[10:-10, 10:-10] = True
    near[:, :20] = np.nan  # outside the hull: no estimate there

    depth, score = stereo.depth_map(2, cams, grays, near, far, valid)

    step = (3.8 - 2.4) / (stereo.HYPOTHESES - 1)
    found = np.isfinite(depth)
    assert not found[:, :20].any() and not found[~valid].any()
    inside = valid & np.isfinite(near)
    assert found[inside].mean() > 0.9  # the texture matches nearly everywhere
    error = np.abs(depth - truth)[found]
    assert np.median(error) < 0.25 * step  # the parabola refines within a step
    assert np.quantile(error, 0.95) < step
    assert (score[found] >= stereo.MIN_SCORE).all()
    assert np.median(score[found]) > 0.9
