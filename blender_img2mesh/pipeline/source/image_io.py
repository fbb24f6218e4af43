"""Loading photos, masks and depth maps into numpy arrays, with clear errors.

Photos: any format Pillow reads (JPEG, PNG, WebP, TIFF, BMP, ...), EXIF orientation
applied, every mode (grayscale, palette, CMYK, 16-bit, alpha) turned into 8-bit sRGB plus
an optional alpha mask.  Images over :data:`MAX_PIXELS` are refused (decompression bombs).
"""

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..command.checks import not_a_file
from ..errors import Img2MeshError

#: refuse images larger than this many pixels (Pillow's bomb check, made an error)
MAX_PIXELS = 120_000_000
#: refuse images (photos, masks, depth maps) smaller than this on either side: a mesh
#: from fewer pixels is a handful of triangles
MIN_SIDE = 16


def _check_file(path, what):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise Img2MeshError(f"{what} not found: {path}", file=path,
                            hint="check the path and spelling")
    err = not_a_file(path, what)  # a named pipe or a device would never end the read
    if err:
        raise Img2MeshError(err.message, file=path, hint=err.hint)
    if not os.access(path, os.R_OK):
        raise Img2MeshError(f"cannot read {what}: {path}", file=path,
                            hint="check the file's permissions")
    return path


def open_image(path, what="image"):
    """Open and fully decode an image file with Pillow; Img2MeshError on any problem."""
    path = _check_file(path, what)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    img = None
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(path)
                img.load()
        except BaseException:
            if img is not None:  # a damaged file: let it go now (a warm worker lives on)
                img.close()
            raise
    except UnidentifiedImageError:
        raise Img2MeshError(f"{what} is not an image file Pillow can read: {path}", file=path,
                            hint="use a JPEG, PNG, WebP, TIFF or BMP file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Img2MeshError(f"{what} is too large (over {MAX_PIXELS // 1_000_000} megapixels): "
                            f"{path}", file=path,
                            hint="downscale it first; it may be a decompression bomb") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Img2MeshError(f"{what} is damaged or truncated: {path} ({exc})", file=path,
                            hint="re-export or re-download the file") from None
    if img.width < MIN_SIDE or img.height < MIN_SIDE:
        img.close()
        raise Img2MeshError(f"{what} is too small ({img.width}x{img.height} px): {path}",
                            file=path, hint=f"use one at least {MIN_SIDE} px on each side")
    return img


def _to_8bit(arr):
    """Scale an integer or float array of any range to uint8."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        hi = 1.0 if np.nanmax(arr) <= 1.0 else 255.0
        return np.clip(np.nan_to_num(arr) / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
    hi = 255 if arr.max() <= 255 else 65535
    return np.clip(arr.astype(np.float64) / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)


def focal_35mm(path):
    """The photo's EXIF focal length in 35 mm film terms (mm; tag FocalLengthIn35mmFilm),
    or None when it has none (or no readable EXIF)."""
    try:
        with Image.open(path) as img:
            value = img.getexif().get_ifd(0x8769).get(0xA405)
        value = float(value or 0)
    except Exception:  # (any broken EXIF: no prior, the photo itself is still good)
        return None
    return value if 1.0 <= value <= 5000.0 else None


def load_photo(path):
    """Return ``(rgb uint8 HxWx3, alpha_mask bool HxW or None)`` for a photo file.

    The alpha mask is only returned when the image really uses transparency.
    """
    img = open_image(path, "image")
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # broken EXIF must not make a good photo unusable
        pass
    alpha = None
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        a = np.asarray(img.getchannel("A"))
        alpha = _to_8bit(a)
        img = img.convert("RGB") if img.mode != "LA" else img.getchannel("L")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = _to_8bit(np.asarray(img))
        rgb = np.repeat(gray[..., None], 3, axis=2)
    elif img.mode == "L" or img.mode == "1":
        gray = np.asarray(img.convert("L"))
        rgb = np.repeat(gray[..., None], 3, axis=2)
    else:
        rgb = np.asarray(img.convert("RGB"))
    mask = None
    if alpha is not None and alpha.min() < 250:
        mask = alpha >= 128
    return np.ascontiguousarray(rgb), mask


def load_mask(path, shape, photo_size=None):
    """A mask file (white = object; alpha is used if present) resized to ``shape`` (h, w);
    ``photo_size`` (w, h): the photo's own size, which a mismatch names."""
    img = open_image(path, "mask")
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA").getchannel("A")
    else:
        img = Image.fromarray(_to_8bit(np.asarray(img.convert("L") if img.mode not in
                                                   ("I;16", "I", "F") else img)))
    _check_aspect(img.size, shape, path, "mask", photo_size)
    if img.size != (shape[1], shape[0]):
        img = img.resize((shape[1], shape[0]), Image.NEAREST)
    return np.asarray(img) >= 128


def _check_aspect(size_wh, shape_hw, path, what, photo_size=None):
    """The proportions of ``size_wh`` must be those of the working size ``shape_hw``;
    the message names the photo's own size (``photo_size``, w h) when given."""
    w, h = size_wh
    H, W = shape_hw
    if abs(w / h - W / H) > 0.01 * (W / H):
        PW, PH = photo_size or (W, H)
        raise Img2MeshError(f"{what} is {w}x{h} px but the photo is {PW}x{PH} px: {path}",
                            file=path, hint=f"give a {what} of {PW}x{PH} px (or the same "
                            "proportions)")


def load_depth_map(path, shape, photo_size=None):
    """A depth map (.npy float, 16-bit PNG/TIFF, or EXR) as float32 resized to ``shape``
    (``photo_size`` as :func:`load_mask`'s).

    Values are returned as stored; the caller applies ``--depth-scale``/``--depth-kind``.
    """
    path = _check_file(path, "depth map")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        try:
            depth = np.load(path, allow_pickle=False, mmap_mode="r")
        except Exception as exc:
            raise Img2MeshError(f"depth map is not a readable .npy array: {path} ({exc})",
                                file=path, hint="save it with numpy.save(float_array)") from None
        if depth.size > MAX_PIXELS:
            raise Img2MeshError(f"depth map is too large ({depth.shape}): {path}", file=path,
                                hint=f"give at most {MAX_PIXELS // 1_000_000} million values")
        depth = np.array(depth)
        if depth.ndim == 3 and depth.shape[-1] == 1:
            depth = depth[..., 0]
        if depth.ndim != 2 or depth.dtype.kind not in "fiu":
            raise Img2MeshError(f"depth map must be a 2-D numeric array, got shape "
                                f"{depth.shape} {depth.dtype}: {path}", file=path,
                                hint="save an (height, width) float array")
    elif ext == ".exr":
        depth = _read_exr(path)
    else:
        img = open_image(path, "depth map")
        depth = np.asarray(img)
        if depth.ndim == 3:
            depth = depth[..., 0]
    depth = _check_depth_values(depth.astype(np.float32), path)
    _check_aspect((depth.shape[1], depth.shape[0]), shape, path, "depth map", photo_size)
    if depth.shape != tuple(shape):
        depth = np.asarray(Image.fromarray(depth, mode="F").resize((shape[1], shape[0]),
                                                                    Image.NEAREST))
    return depth


def _check_depth_values(depth, path):
    """A depth map must have a size and hold finite numbers somewhere (else nothing in
    it can be depth); pixels without a value (NaN, inf, 0) are the caller's business."""
    h, w = depth.shape[:2] if depth.ndim >= 2 else (0, 0)
    if depth.ndim != 2 or h < MIN_SIDE or w < MIN_SIDE:
        raise Img2MeshError(f"depth map is empty or too small ({w}x{h} values): {path}",
                            file=path, hint=f"give at least {MIN_SIDE}x{MIN_SIDE} values, "
                            "one per pixel of the image")
    finite = np.isfinite(depth)
    if not finite.any():
        raise Img2MeshError(f"depth map holds no finite value (all NaN or infinite): {path}",
                            file=path, hint="check how the depth was saved")
    if not (depth[finite] != 0).any():
        raise Img2MeshError(f"depth map is all zero (no positive depth): {path}", file=path,
                            hint="check how the depth was saved")
    return depth


def _read_exr(path):
    """Depth from an EXR: the channel named Z (or *.Z, *Depth*), else R/Y/V, else the first."""
    try:
        import OpenEXR
    except ImportError:
        raise Img2MeshError("reading EXR depth maps needs the OpenEXR package", file=path,
                            hint="pip install openexr, or save the depth as .npy") from None
    try:
        channels = OpenEXR.File(path).channels()
    except Exception as exc:
        raise Img2MeshError(f"cannot read EXR depth map: {path} ({exc})", file=path,
                            hint="save the depth as .npy or 16-bit PNG instead") from None
    names = list(channels)
    ranked = [n for n in names if n == "Z" or n.endswith(".Z")] + \
        [n for n in names if "depth" in n.lower()] + \
        [n for n in names if n.split(".")[-1] in ("R", "Y", "V", "RGB", "RGBA")] + names
    data = np.asarray(channels[ranked[0]].pixels)
    return data[..., 0] if data.ndim == 3 else data


def resize_rgb(rgb, max_size):
    """Downscale so the longer side is at most ``max_size`` (never upscales)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_size / max(h, w))
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


def resize_mask(mask, shape):
    if mask.shape == tuple(shape):
        return mask
    img = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(img.resize((shape[1], shape[0]), Image.BILINEAR)) >= 128
