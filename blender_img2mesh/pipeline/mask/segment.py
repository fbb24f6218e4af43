"""Foreground masks: rembg background removal, and cleaning of any mask.

The U²-Net models (u2netp, the default) run on onnxruntime without importing rembg
(:mod:`.u2net`: the same steps, the same masks); the others through rembg.

rembg looks for its ONNX weights in ``$U2NET_HOME`` (default ``~/.u2net``); we point it
at the models folder when the file is there (else at the package's own ``models/``, where
``build.py`` bundles u2netp), so the default ``u2netp`` works offline once
``scripts/get_models.py`` has put it in place.
"""

import contextlib
import logging
import os
import shutil
import warnings

import numpy as np
from scipy import ndimage

from ..errors import Img2MeshError, ModelUnavailable
from ..models import BUNDLED_MODELS_DIR, DISCARD, REMBG_MODELS, download_failure, partial_folder


def rembg_session(name, models_dir=None, allow_download=True, spin=True, threads=None,
                  arena=True):
    """A rembg session for model ``name``; weights from ``models_dir`` when there;
    ``spin``, ``threads`` (onnxruntime's threads for one run; None: every core) and
    ``arena``: :func:`u2net.session_options`, for rembg's own models too."""
    from .u2net import U2NetSession, session_options

    home = rembg_home(name, models_dir, allow_download)
    weights = os.path.join(home, f"{name}.onnx")
    if not os.path.isfile(weights) and allow_download and models_dir:
        home = download_rembg_model(name, models_dir)
        weights = os.path.join(home, f"{name}.onnx")
    os.environ["U2NET_HOME"] = home  # for rembg, and where the weights are (fetch.py)
    try:
        if uses_rembg(name, weights):
            return import_rembg().new_session(
                name, sess_opts=session_options(spin, threads, arena))
        return U2NetSession(name, weights, spin, threads, arena)
    except Exception as exc:
        raise ModelUnavailable(
            f"cannot load background-removal model '{name}' ({type(exc).__name__}: {exc})",
            file=weights, hint="run 'python scripts/get_models.py' for u2netp, connect to the "
            "internet once, or use --keep-background / --mask FILE") from None


def download_rembg_model(name, models_dir):
    """rembg's own download of model ``name`` (pooch, from rembg's GitHub releases, MD5
    checked), all or nothing: into ``<name>.partial/`` in ``models_dir`` (rembg nests it
    as ``models/<name>/``), then its files flat into ``models_dir`` -- where the next run,
    ``scripts/get_models.py`` and rembg itself (``$U2NET_HOME``) look -- the main
    ``<name>.onnx`` last.  Returns ``models_dir``."""
    rembg = import_rembg()
    session_class = rembg.sessions.sessions.get(name)
    if session_class is None:
        raise ModelUnavailable(f"this rembg has no background-removal model '{name}'",
                               hint="use u2netp, or update rembg")
    partial = partial_folder(os.path.join(models_dir, name))
    before = os.environ.get("U2NET_HOME")
    try:
        os.makedirs(partial, exist_ok=True)
        os.environ["U2NET_HOME"] = partial  # where rembg downloads (pooch: temp file, move)
        try:
            with _quiet_pooch():
                session_class.download_models()
        except Exception as exc:
            raise ModelUnavailable(
                f"cannot download background-removal model '{name}': "
                f"{download_failure(exc, 'GitHub (rembg releases)')}",
                file=os.path.join(models_dir, f"{name}.onnx"),
                hint="check the internet connection and try again, run 'python "
                "scripts/get_models.py' for u2netp, or use --keep-background / --mask FILE"
            ) from None
        got = sorted((f != f"{name}.onnx", os.path.join(root, f))
                     for root, _, files in os.walk(partial) for f in files)
        for _, path in reversed(got):  # the main file last: its presence means complete
            os.replace(path, os.path.join(models_dir, os.path.basename(path)))
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        if before is None:
            os.environ.pop("U2NET_HOME", None)
        else:
            os.environ["U2NET_HOME"] = before
    return models_dir


@contextlib.contextmanager
def _quiet_pooch():
    """pooch draws a progress bar and logs on stderr: keep them off our one-line errors."""
    import pooch

    log = pooch.get_logger()
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stderr(DISCARD):
            yield
    finally:
        log.setLevel(level)


def uses_rembg(name, weights=None):
    """Whether model ``name`` needs rembg itself: the U²-Net models whose weights are
    there run without it (:mod:`.u2net`, a much lighter import)."""
    from .u2net import MODELS

    return name not in MODELS or (weights is not None and not os.path.isfile(weights))


def import_runtime(name, home):
    """Import what the session of model ``name`` (weights in folder ``home``) runs on, on
    the calling (main) thread: onnxruntime, and rembg for the models that need it (see
    :func:`import_rembg`)."""
    if uses_rembg(name, os.path.join(home, f"{name}.onnx")):
        import_rembg()
    else:
        import onnxruntime  # noqa: F401


def import_rembg():
    """rembg, imported (heavy: onnxruntime, numba; only when a mask is really computed).
    Import it on the main thread before making a session on another: two threads
    importing the same modules at once can see them half-initialised."""
    with warnings.catch_warnings():  # numba's note about an old TBB is not ours to fix
        warnings.filterwarnings("ignore", message=".*TBB threading layer.*")
        import rembg

    return rembg


def rembg_home(name, models_dir=None, allow_download=True):
    """The folder rembg is to find (or download) model ``name``'s weights in; a clear
    error for an unknown name or weights that are not there with downloads off."""
    if name not in REMBG_MODELS:
        raise Img2MeshError(f"unknown background-removal model '{name}'",
                            hint="use one of: " + ", ".join(REMBG_MODELS), kind="model")
    home = os.environ.get("U2NET_HOME", os.path.expanduser("~/.u2net"))
    for folder in (models_dir, BUNDLED_MODELS_DIR):  # the models folder, then the package's
        if folder and os.path.isfile(os.path.join(folder, f"{name}.onnx")):
            home = folder
            break
    weights = os.path.join(home, f"{name}.onnx")
    if not os.path.isfile(weights) and not allow_download:
        raise ModelUnavailable(
            f"background-removal model '{name}' is not downloaded and downloads are off",
            file=weights, hint="run 'python scripts/get_models.py' (u2netp), allow downloads, "
            "or use --keep-background / --mask FILE")
    return home


def remove_background(rgb, session):
    """Foreground probability mask (bool HxW) for an RGB uint8 image."""
    from PIL import Image

    from .u2net import U2NetSession

    if isinstance(session, U2NetSession):
        out = session.predict(Image.fromarray(rgb))[0]
    else:
        out = import_rembg().remove(Image.fromarray(rgb), session=session, only_mask=True,
                                    post_process_mask=False)
    return np.asarray(out.convert("L")) >= 128


def clean_mask(mask, erode_px=1, min_part=0.1, fill_holes=True):
    """Keep the main object: large components only, holes filled, border eroded.

    Components smaller than ``min_part`` of the largest are dropped (specks, shadows);
    with ``fill_holes`` (for estimated masks, whose holes are mostly mistakes) enclosed
    holes are filled -- not for a mask the user gave (``--mask``, alpha), where a hole is
    real (a ring, a cup's handle) and its pixels have no depth of the object;
    ``erode_px`` pixels are peeled off the outline, where depth is least reliable (not
    off the image border: an object cut by the frame goes on beyond it).
    """
    mask = np.asarray(mask, dtype=bool)
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= min_part * sizes.max()) + 1
    mask = np.isin(labels, keep)
    if fill_holes:  # = ndimage.binary_fill_holes (4-connected background), ~5x faster
        background, _ = ndimage.label(~mask)
        edge = np.unique(np.concatenate([background[0], background[-1], background[:, 0],
                                         background[:, -1]]))
        mask = ~np.isin(background, edge[edge > 0])
    if erode_px > 0:
        eroded = ndimage.binary_erosion(mask, iterations=erode_px, border_value=1)
        if eroded.sum() >= 0.5 * mask.sum():
            mask = eroded
    return mask


def open_holes(rgb, mask, levels=32, min_share=0.002, ring=(2, 8)):
    """``mask`` without the regions inside it that have the colours of the background
    around the object and that it encloses: holes the segmenter filled (u2netp fills a
    torus's hole seen from the side; measured on the multi-view benchmark's torus, mask
    IoU 0.936 -> 0.990, the other sets unchanged).  The background's colours are those of
    a ring ``ring`` pixels around the mask (a ``levels``-per-channel histogram); a region
    counts when it is at least ``min_share`` of the mask and lies inside it."""
    near = ndimage.binary_dilation(mask, iterations=ring[1]) & \
        ~ndimage.binary_dilation(mask, iterations=ring[0])
    if near.sum() < 50:
        return mask
    q = (np.asarray(rgb[..., :3], np.int32) * levels) // 256
    key = (q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]
    counts = np.bincount(key[near], minlength=levels ** 3).reshape((levels,) * 3)
    common = ndimage.binary_dilation(counts >= max(5, 0.002 * near.sum()))  # (noise)
    like = ndimage.binary_opening(common.reshape(-1)[key] & mask, iterations=2)
    labels, n = ndimage.label(like)
    if not n:
        return mask
    index = np.arange(1, n + 1)
    area = ndimage.sum_labels(np.ones(mask.shape), labels, index)
    inside = ndimage.sum_labels(ndimage.binary_erosion(mask, iterations=2), labels, index)
    holes = np.flatnonzero((area >= min_share * mask.sum()) & (inside >= 0.99 * area)) + 1
    return mask & ~np.isin(labels, holes)


def require_object(mask, source, path=None, min_pixels=64):
    """Raise a clear error when a mask holds (almost) nothing."""
    count = int(np.count_nonzero(mask))
    if count < min_pixels:
        hint = ("draw a white object on black, the same size as the image" if source == "mask"
                else "try another --segmenter, give --mask FILE, or use --keep-background")
        raise Img2MeshError(f"the {source} holds no object ({count} foreground pixels)",
                            file=path, hint=hint)
    return mask
