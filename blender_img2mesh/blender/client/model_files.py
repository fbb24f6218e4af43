"""Which of the preferences' models are already on disk, where and how large (no bpy, no
pipeline run): the worker's own places, looked at with ``os.path`` only -- the models
folder, the package's bundled ``models/``, rembg's ``$U2NET_HOME`` / ``~/.u2net`` and the
Hugging Face cache."""

import glob
import os

from ...pipeline import models
from . import depth_plan


def _segmenter(name, models_dir):
    home = os.environ.get("U2NET_HOME") or os.path.expanduser("~/.u2net")
    for folder in (models_dir, models.BUNDLED_MODELS_DIR, home):
        path = os.path.join(folder, f"{name}.onnx") if folder else ""
        if path and os.path.isfile(path):
            return path
    return None


def _t2i(name, models_dir):
    repo_id = models.T2I_MODELS[name][0]
    for candidate in (name, models.local_name(repo_id)):
        folder = os.path.join(models_dir, candidate)
        if os.path.isfile(os.path.join(folder, "model_index.json")):
            return folder
    pattern = os.path.join(depth_plan.hf_cache_dir(), "models--" + repo_id.replace("/", "--"),
                           "snapshots", "*", "model_index.json")
    found = glob.glob(pattern)
    return os.path.dirname(found[0]) if found else None


def present(name, models_dir=""):
    """Where model ``name`` (a rembg, text-to-image or depth model name) already is, or
    None: the places the worker looks, in its order."""
    models_dir = models_dir or models.default_models_dir()
    if name in models.REMBG_MODELS:
        return _segmenter(name, models_dir)
    if name in models.T2I_MODELS:
        return _t2i(name, models_dir)
    return depth_plan.present(name, models_dir)


def size_bytes(path):
    """Bytes of a file, or of the files under a folder (links followed: the HF cache's
    snapshots link to its blobs)."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def human_size(n):
    """``4.6 MB``, ``97 MB``, ``2.6 GB``, ``830 KB`` (decimal units, as the download
    sizes are given)."""
    for unit in ("bytes", "KB", "MB"):
        if n < 1000:
            return f"{n:.1f} {unit}" if unit == "MB" and n < 10 else f"{n:.0f} {unit}"
        n /= 1000.0
    return f"{n:.1f} GB"
