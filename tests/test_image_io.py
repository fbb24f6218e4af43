"""Loading photos: formats, EXIF orientation, every Pillow mode, alpha, and clear errors."""

import gc
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from blender_img2mesh.pipeline.source import image_io
from blender_img2mesh.pipeline.errors import Img2MeshError


def _mean_abs(a, b):
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize("ext,kwargs", [
    (".png", {}), (".tif", {}), (".bmp", {}), (".webp", {"lossless": True}),
])
def test_lossless_formats_load_exactly(tmp_path, astronaut_small, ext, kwargs):
    path = tmp_path / f"photo{ext}"
    Image.fromarray(astronaut_small).save(path, **kwargs)
    rgb, mask = image_io.load_photo(path)
    assert rgb.dtype == np.uint8 and rgb.shape == astronaut_small.shape
    np.testing.assert_array_equal(rgb, astronaut_small)
    assert mask is None


@pytest.mark.parametrize("ext,kwargs", [(".jpg", {"quality": 95}), (".webp", {"quality": 95})])
def test_lossy_formats_load_close(tmp_path, astronaut_small, ext, kwargs):
    path = tmp_path / f"photo{ext}"
    Image.fromarray(astronaut_small).save(path, **kwargs)
    rgb, mask = image_io.load_photo(path)
    assert rgb.shape == astronaut_small.shape and mask is None
    assert _mean_abs(rgb, astronaut_small) < 4.0
    # and it is really this picture, not just any picture of the same size
    assert _mean_abs(rgb, astronaut_small[::-1]) > 20.0


def test_exif_orientation_6_is_applied(tmp_path, astronaut_small):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(astronaut_small).save(path, quality=95, exif=exif)
    rgb, _ = image_io.load_photo(path)
    h, w = astronaut_small.shape[:2]
    assert rgb.shape == (w, h, 3)
    want = np.rot90(astronaut_small, k=-1)  # clockwise
    assert _mean_abs(rgb, want) < 4.0
    assert _mean_abs(rgb, np.rot90(astronaut_small, k=1)) > 20.0


def test_grayscale_L(tmp_path, astronaut_small):
    gray = np.asarray(Image.fromarray(astronaut_small).convert("L"))
    path = tmp_path / "gray.png"
    Image.fromarray(gray).save(path)
    rgb, mask = image_io.load_photo(path)
    assert mask is None and rgb.shape == gray.shape + (3,)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], gray)


def test_palette_without_transparency(tmp_path, astronaut_small):
    pal = Image.fromarray(astronaut_small).convert("P", palette=Image.Palette.ADAPTIVE,
                                                   colors=64)
    path = tmp_path / "palette.png"
    pal.save(path)
    rgb, mask = image_io.load_photo(path)
    assert mask is None
    np.testing.assert_array_equal(rgb, np.asarray(pal.convert("RGB")))
    assert _mean_abs(rgb, astronaut_small) < 12.0


def test_palette_with_transparency_gives_mask(tmp_path, astronaut_small):
    pal = Image.fromarray(astronaut_small).convert("P", palette=Image.Palette.ADAPTIVE,
                                                   colors=64)
    idx = np.asarray(pal).copy()
    idx[idx == 0] = 1  # index 0 only where we put it
    h, w = idx.shape
    transparent = np.zeros((h, w), bool)
    transparent[:, : w // 3] = True
    idx[transparent] = 0
    img = Image.fromarray(idx, mode="P")
    img.putpalette(pal.getpalette())
    img.info["transparency"] = 0
    path = tmp_path / "palette_t.png"
    img.save(path, transparency=0)
    rgb, mask = image_io.load_photo(path)
    assert mask is not None
    np.testing.assert_array_equal(mask, ~transparent)
    assert rgb.shape == (h, w, 3)


def test_cmyk_tiff(tmp_path, astronaut_small):
    path = tmp_path / "cmyk.tif"
    Image.fromarray(astronaut_small).convert("CMYK").save(path)
    with Image.open(path) as img:
        assert img.mode == "CMYK"
    rgb, mask = image_io.load_photo(path)
    assert mask is None
    np.testing.assert_array_equal(rgb, astronaut_small)


def test_cmyk_jpeg(tmp_path, astronaut_small):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(astronaut_small).convert("CMYK").save(path, quality=95)
    rgb, _ = image_io.load_photo(path)
    assert rgb.shape == astronaut_small.shape
    assert _mean_abs(rgb, astronaut_small) < 6.0


def test_16bit_grayscale_png(tmp_path, astronaut_small):
    gray = np.asarray(Image.fromarray(astronaut_small).convert("L"))
    wide = gray.astype(np.uint16) * 257  # full 16-bit range
    path = tmp_path / "gray16.png"
    Image.fromarray(wide).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    rgb, mask = image_io.load_photo(path)
    assert mask is None and rgb.dtype == np.uint8
    for c in range(3):
        assert np.abs(rgb[..., c].astype(int) - gray).max() <= 1


def test_rgba_with_transparency_returns_alpha_mask(tmp_path, astronaut_small):
    h, w = astronaut_small.shape[:2]
    yy, xx = np.mgrid[:h, :w]
    disc = (xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (0.4 * h) ** 2
    alpha = np.where(disc, 255, 0).astype(np.uint8)
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([astronaut_small, alpha])).save(path)
    rgb, mask = image_io.load_photo(path)
    np.testing.assert_array_equal(rgb, astronaut_small)
    assert mask is not None and mask.dtype == bool
    np.testing.assert_array_equal(mask, disc)


def test_la_with_transparency(tmp_path, astronaut_small):
    gray = np.asarray(Image.fromarray(astronaut_small).convert("L"))
    alpha = np.zeros_like(gray)
    alpha[:, gray.shape[1] // 2:] = 255
    path = tmp_path / "la.png"
    Image.fromarray(np.dstack([gray, alpha]), mode="LA").save(path)
    rgb, mask = image_io.load_photo(path)
    np.testing.assert_array_equal(rgb[..., 1], gray)
    np.testing.assert_array_equal(mask, alpha >= 128)


def test_fully_opaque_rgba_has_no_mask(tmp_path, astronaut_small):
    alpha = np.full(astronaut_small.shape[:2], 255, np.uint8)
    path = tmp_path / "opaque.png"
    Image.fromarray(np.dstack([astronaut_small, alpha])).save(path)
    rgb, mask = image_io.load_photo(path)
    assert mask is None
    np.testing.assert_array_equal(rgb, astronaut_small)


# ---------------------------------------------------------------- decompression bombs


def test_bomb_refused_with_small_limit(tmp_path, astronaut_small, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after
    path = tmp_path / "big.png"
    Image.fromarray(astronaut_small).save(path)
    monkeypatch.setattr(image_io, "MAX_PIXELS", 1000)
    with pytest.raises(Img2MeshError, match="too large") as info:
        image_io.load_photo(path)
    assert str(path) in str(info.value)


def _png_header_only(path, width, height):
    """A PNG whose header claims width x height (a decompression bomb's calling card)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) +
                     chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [12_000, 30_000])  # 144 MP (warning) and 900 MP (error)
def test_crafted_huge_png_header_refused(tmp_path, monkeypatch, side):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    path = tmp_path / "bomb.png"
    _png_header_only(path, side, side)
    with pytest.raises(Img2MeshError, match="too large") as info:
        image_io.load_photo(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- broken inputs


def _load_refused(path, match):
    """load_photo refuses ``path``; no file handle is left for the garbage collector to
    close (a warm worker lives on, and on Windows an open file cannot be replaced)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Img2MeshError, match=match) as info:
            image_io.load_photo(path)
        info.value.__traceback__ = None  # the frames that held the image
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], \
        "the damaged file was left open"
    return info


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_truncated_photo(tmp_path, astronaut_small, ext):
    good = tmp_path / f"good.{ext}"
    Image.fromarray(astronaut_small).save(good)
    data = good.read_bytes()
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(data[: len(data) // 2])
    info = _load_refused(path, "damaged or truncated")
    assert str(path) in str(info.value)


def test_too_small_photo(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("RGB", (6, 40)).save(path)
    info = _load_refused(path, "too small")
    assert "6x40" in str(info.value)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n" * 20)
    with pytest.raises(Img2MeshError, match="not an image") as info:
        image_io.load_photo(path)
    assert str(path) in str(info.value)


def test_directory(tmp_path):
    folder = tmp_path / "photos.png"
    folder.mkdir()
    with pytest.raises(Img2MeshError, match="folder") as info:
        image_io.load_photo(folder)
    assert str(folder) in str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(Img2MeshError, match="not found") as info:
        image_io.load_photo(path)
    assert str(path) in str(info.value)
    assert info.value.file == str(path)


# ---------------------------------------------------------------- resizing


def test_resize_rgb_downscales_longer_side_only(astronaut_small):
    small = image_io.resize_rgb(astronaut_small, 80)
    assert small.shape == (60, 80, 3)
    assert image_io.resize_rgb(astronaut_small, 1000) is astronaut_small  # never upscales
    # the content is the same picture, just smaller
    ref = np.asarray(Image.fromarray(astronaut_small).resize((80, 60), Image.BOX))
    assert _mean_abs(small, ref) < 6.0
