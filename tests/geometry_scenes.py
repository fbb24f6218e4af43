"""The scenes the geometry and format tests share: a photo of four coloured quadrants and the
depth map (+ mask) of a sphere of known centre and radius seen by the pipeline's camera.
Test modules import the fixtures they use from here."""

import numpy as np
import pytest
from PIL import Image

from blender_img2mesh.pipeline.geometry import camera

W, H, FOV = 160, 120, 60.0
# the quadrant colors of the test photo: top-left, top-right, bottom-left, bottom-right
QUADS = np.array([[220, 30, 30], [30, 40, 220], [30, 200, 40], [230, 220, 30]], float)
SPHERE_C, SPHERE_R = (0.1, -0.05, 2.5), 0.5


@pytest.fixture(scope="module")
def quad_photo(tmp_path_factory, photo):
    """A 2x-size photo (320x240): four flat color quadrants with a real photo's texture
    (+-12 levels) on top, so colors are distinct but the picture is a real one."""
    folder = tmp_path_factory.mktemp("quad")
    tex = np.asarray(Image.open(photo("coffee.png")).convert("L").resize((2 * W, 2 * H)),
                     float)
    tex = (tex - tex.mean()) / (tex.std() + 1e-9) * 6.0
    img = np.empty((2 * H, 2 * W, 3), float)
    img[:H, :W], img[:H, W:], img[H:, :W], img[H:, W:] = QUADS
    img = np.clip(img + np.clip(tex, -12, 12)[..., None], 0, 255).astype(np.uint8)
    path = folder / "quads.png"
    Image.fromarray(img).save(path)
    return str(path)


@pytest.fixture(scope="module")
def sphere_map(tmp_path_factory, scene):
    folder = tmp_path_factory.mktemp("sphere")
    z, hit = scene.sphere_depth(W, H, FOV, SPHERE_C, SPHERE_R)
    np.save(folder / "sphere.npy", z)
    Image.fromarray(hit.astype(np.uint8) * 255).save(folder / "sphere_mask.png")
    return str(folder / "sphere.npy"), str(folder / "sphere_mask.png"), z, hit


def pixels(V, w=W, h=H, fov=FOV):
    uv = camera.project(V, camera.focal_px(w, h, fov), w, h)
    return (np.clip(np.floor(uv[:, 0]).astype(int), 0, w - 1),
            np.clip(np.floor(uv[:, 1]).astype(int), 0, h - 1), uv)


def sphere_args(quad_photo, sphere_map, out, *extra):
    npy, mask, _, _ = sphere_map
    return [quad_photo, "-o", out, "--depth-map", npy, "--mask", mask, "--fov", FOV,
            "--max-size", W, "--poisson-depth", 7, *extra]
