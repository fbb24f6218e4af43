"""Masks: cleaning, --mask files, the alpha channel, and the errors around them."""

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from blender_img2mesh.pipeline.geometry import camera
from blender_img2mesh.pipeline.source import image_io
from blender_img2mesh.pipeline.mask import segment
from blender_img2mesh.pipeline.errors import Img2MeshError


def _square(shape, top, left, size):
    m = np.zeros(shape, bool)
    m[top:top + size, left:left + size] = True
    return m


def test_clean_mask_keeps_big_parts_drops_specks_fills_holes():
    shape = (100, 120)
    big = _square(shape, 20, 20, 50)
    second = _square(shape, 30, 85, 25)  # 25 % of the big one: a real part, kept
    speck = _square(shape, 85, 100, 4)  # 0.6 %: dropped
    hole = _square(shape, 40, 40, 10)
    raw = (big | second | speck) & ~hole
    out = segment.clean_mask(raw)
    assert not out[speck].any(), "a small speck survived"
    assert out[hole].all(), "the hole was not filled"
    inner = ndimage.binary_erosion(big | second, iterations=2)
    assert out[inner].all(), "the objects lost their inside"
    outer = ndimage.binary_dilation(big | second, iterations=1)
    assert not out[~outer].any(), "the mask grew"
    # one pixel is peeled off the outline
    assert not out[20, 40] and out[21, 40]


def test_clean_mask_keeps_only_largest_when_others_are_small():
    shape = (80, 80)
    big = _square(shape, 10, 10, 40)
    small = _square(shape, 60, 60, 8)  # 4 % of the big one
    out = segment.clean_mask(big | small, erode_px=0)
    np.testing.assert_array_equal(out, big)


@pytest.mark.parametrize("seed", range(4))
def test_clean_mask_fills_holes_as_scipy_does(seed):
    """Holes are filled exactly as ``ndimage.binary_fill_holes`` fills them: enclosed
    background (4-connected), not background that reaches the image border, even
    through a diagonal gap or a pocket open to the frame."""
    rng = np.random.default_rng(seed)
    raw = ndimage.binary_opening(rng.random((70, 90)) < 0.62)
    raw[0:12, 30:45] = True
    raw[5:9, 35:40] = False  # a hole next to the top border
    out = segment.clean_mask(raw, erode_px=0, min_part=0.0)
    np.testing.assert_array_equal(out, ndimage.binary_fill_holes(raw))
    assert out[5:9, 35:40].all()


def test_clean_mask_does_not_erode_at_the_image_border():
    shape = (60, 60)
    m = np.zeros(shape, bool)
    m[0:30, 10:50] = True  # the object is cut by the top of the frame
    out = segment.clean_mask(m)
    assert out[0, 15:45].all(), "eroded along the image border"
    assert not out[29, 15:45].any(), "not eroded along the real outline"


def test_require_object_refuses_empty_mask():
    with pytest.raises(Img2MeshError, match="holds no object"):
        segment.require_object(np.zeros((50, 50), bool), "mask", "m.png")
    ok = segment.require_object(_square((50, 50), 10, 10, 20), "mask", "m.png")
    assert ok.sum() == 400


def test_load_mask_resizes_same_aspect_and_uses_alpha(tmp_path):
    small = _square((60, 80), 15, 20, 30)
    path = tmp_path / "mask.png"
    Image.fromarray(small.astype(np.uint8) * 255).save(path)
    big = image_io.load_mask(path, (120, 160))
    assert big.shape == (120, 160)
    np.testing.assert_array_equal(big[::2, ::2], small)
    # an RGBA mask uses its alpha, not its color
    rgba = np.zeros((60, 80, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere
    rgba[..., 3] = small * 255
    path2 = tmp_path / "mask_rgba.png"
    Image.fromarray(rgba).save(path2)
    np.testing.assert_array_equal(image_io.load_mask(path2, (60, 80)), small)


def test_load_mask_wrong_aspect(tmp_path):
    path = tmp_path / "mask.png"
    Image.new("L", (100, 100), 255).save(path)
    with pytest.raises(Img2MeshError, match="mask is 100x100") as info:
        image_io.load_mask(path, (120, 160))
    assert str(path) in str(info.value)


def _disc_mask(w, h, cx, cy, r):
    yy, xx = np.mgrid[:h, :w]
    return (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 < r ** 2


def test_mask_file_is_used(tmp_path, run_job, astronaut_small, mesh_reader):
    h, w = astronaut_small.shape[:2]
    photo = tmp_path / "photo.png"
    Image.fromarray(astronaut_small).save(photo)
    disc = _disc_mask(w, h, 0.35 * w, 0.5 * h, 0.3 * h)
    mpath = tmp_path / "mask.png"
    Image.fromarray(disc.astype(np.uint8) * 255).save(mpath)
    out = tmp_path / "out.ply"
    result, _ = run_job([photo, "-o", out, "--mask", mpath, "--depth-model", "inflate",
                         "--frame", "camera", "--fov", 50, "--poisson-depth", 6, "--offline"])
    assert result["mask"] == "mask" and result["segmenter"] is None
    V, T, _ = mesh_reader(out)
    assert len(T) > 100
    uv = camera.project(V, camera.focal_px(w, h, 50), w, h)
    ui = np.clip(np.floor(uv[:, 0]).astype(int), 0, w - 1)
    vi = np.clip(np.floor(uv[:, 1]).astype(int), 0, h - 1)
    near = ndimage.binary_dilation(disc, iterations=2)
    assert near[vi, ui].all(), "mesh reaches outside the given mask"
    # and it covers the disc, not just a bit of it
    hit = np.zeros((h, w), bool)
    hit[vi, ui] = True
    covered = ndimage.binary_dilation(hit, iterations=3) & disc
    assert covered.sum() > 0.8 * disc.sum()


def test_alpha_channel_is_the_mask(tmp_path, run_job, astronaut_small, mesh_reader):
    h, w = astronaut_small.shape[:2]
    disc = _disc_mask(w, h, 0.6 * w, 0.5 * h, 0.35 * h)
    photo = tmp_path / "cutout.png"
    Image.fromarray(np.dstack([astronaut_small, disc.astype(np.uint8) * 255])).save(photo)
    out = tmp_path / "out.ply"
    result, _ = run_job([photo, "-o", out, "--depth-model", "inflate", "--frame", "camera",
                         "--fov", 50, "--poisson-depth", 6, "--offline"])
    assert result["mask"] == "alpha"
    V, _, _ = mesh_reader(out)
    uv = camera.project(V, camera.focal_px(w, h, 50), w, h)
    ui = np.clip(np.floor(uv[:, 0]).astype(int), 0, w - 1)
    vi = np.clip(np.floor(uv[:, 1]).astype(int), 0, h - 1)
    assert ndimage.binary_dilation(disc, iterations=2)[vi, ui].all()


def test_mask_of_wrong_aspect_is_an_error(tmp_path, run_job, astronaut_small):
    photo = tmp_path / "photo.png"
    Image.fromarray(astronaut_small).save(photo)
    mpath = tmp_path / "square_mask.png"
    Image.new("L", (90, 90), 255).save(mpath)
    out = tmp_path / "out.ply"
    with pytest.raises(Img2MeshError) as info:
        run_job([photo, "-o", out, "--mask", mpath, "--depth-model", "inflate"])
    assert str(mpath) in str(info.value)
    assert not out.exists()


def test_empty_mask_is_an_error(tmp_path, run_job, astronaut_small):
    photo = tmp_path / "photo.png"
    Image.fromarray(astronaut_small).save(photo)
    mpath = tmp_path / "empty_mask.png"
    Image.new("L", astronaut_small.shape[1::-1], 0).save(mpath)
    with pytest.raises(Img2MeshError, match="holds no object") as info:
        run_job([photo, "-o", tmp_path / "out.ply", "--mask", mpath, "--depth-model",
                 "inflate"])
    assert str(mpath) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty_mask.png", "photo.png"]
