"""Where depth models come from: a local folder first, then the Hugging Face cache, then
(only when allowed) a download of the safetensors files into the models folder.

Names: an alias below, a hub id ``org/name``, or a local folder holding a transformers
model (``config.json`` + ``model.safetensors`` + ``preprocessor_config.json``).
"""

import os

from .errors import Img2MeshError, ModelUnavailable

#: alias -> (hub id, license, what it outputs)
DEPTH_MODELS = {
    "depth-anything-v2-small": ("depth-anything/Depth-Anything-V2-Small-hf", "Apache-2.0",
                                "relative"),
    "depth-anything-v2-base": ("depth-anything/Depth-Anything-V2-Base-hf", "CC-BY-NC-4.0",
                               "relative"),
    "depth-anything-v2-large": ("depth-anything/Depth-Anything-V2-Large-hf", "CC-BY-NC-4.0",
                                "relative"),
    "depth-anything-v2-metric-indoor-small": (
        "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf", "Apache-2.0", "metric"),
    "glpn-nyu": ("vinvino02/glpn-nyu", "Apache-2.0", "metric"),
    "glpn-kitti": ("vinvino02/glpn-kitti", "Apache-2.0", "metric"),
    "dpt-hybrid": ("Intel/dpt-hybrid-midas", "Apache-2.0", "relative"),
    "dpt-large": ("Intel/dpt-large", "Apache-2.0", "relative"),
    "zoedepth-nyu-kitti": ("Intel/zoedepth-nyu-kitti", "MIT", "metric"),
    "depth-pro": ("apple/DepthPro-hf", "Apple sample code license", "metric"),
}
DEFAULT_DEPTH_MODEL = "depth-anything-v2-small"
#: files a depth model needs; weights only as safetensors (never pickles)
MODEL_FILES = ["*.json", "*.safetensors", "*.txt"]


#: models shipped inside the package: build.py puts rembg's u2netp.onnx (MIT) here, so
#: background removal works with no download; looked at after the models folder
BUNDLED_MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  "models")


def default_models_dir():
    """``$IMG2MESH_MODELS``, else ``~/.cache/blender_img2mesh/models``."""
    env = os.environ.get("IMG2MESH_MODELS")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "blender_img2mesh", "models")


def downloads_allowed(offline_flag=False):
    """False when ``--offline`` or the usual Hugging Face offline variables say so."""
    if offline_flag:
        return False
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "IMG2MESH_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return False
    return True


def _looks_like_path(name):
    return name.startswith((".", "~", "/")) or os.sep in name.replace("/", "") or (
        os.altsep is not None and os.altsep in name) or name.count("/") > 1


def _is_model_dir(path):
    return os.path.isfile(os.path.join(path, "config.json"))


def local_name(repo_id):
    """Folder name of a hub model inside the models folder (``org--name``)."""
    return repo_id.replace("/", "--")


class ModelSource:
    """How one kind of model is found: what it is called in messages, its aliases
    (name -> (hub id, ...)), when a folder holds one (``ready``), and how it is taken
    from the HF cache (``from_cache``) and downloaded (``download``)."""

    def __init__(self, what, aliases, marker, ready, from_cache, download, folder_hint,
                 names_hint, missing_hint):
        self.what, self.aliases, self.marker, self.ready = what, aliases, marker, ready
        self.from_cache, self.download = from_cache, download
        self.folder_hint, self.names_hint, self.missing_hint = (folder_hint, names_hint,
                                                                missing_hint)


def resolve(source, name, models_dir, allow_download, progress=None):
    """Return ``(folder, hub_id_or_None)`` of a ready-to-load model, or raise.  In order:
    ``name`` as a folder; ``<models_dir>/<name>`` or ``<models_dir>/<org>--<name>``; the
    Hugging Face cache; a download (only when allowed; ``progress(fraction, message)``)."""
    expanded = os.path.expanduser(name)
    if os.path.isdir(expanded):
        if not source.ready(expanded):
            raise Img2MeshError(f"{source.what} folder has no {source.marker}: {expanded}",
                                file=expanded, hint=source.folder_hint, kind="model")
        return os.path.abspath(expanded), None
    if _looks_like_path(name):
        raise Img2MeshError(f"{source.what} folder not found: {expanded}", file=expanded,
                            hint="check the path, or use a model name such as "
                            f"{next(iter(source.aliases))}", kind="model")
    if name in source.aliases:
        repo_id = source.aliases[name][0]
    elif name.count("/") == 1 and all(name.split("/")):
        repo_id = name
    else:
        raise Img2MeshError(f"unknown {source.what} '{name}'", kind="model",
                            hint=f"use {source.names_hint}one of " + ", ".join(source.aliases)
                            + ", a hub id like org/name, or a local model folder")
    for candidate in (name, local_name(repo_id)):
        folder = os.path.join(models_dir, candidate) if models_dir else None
        if folder and source.ready(folder):
            return folder, repo_id
    cached = source.from_cache(repo_id)
    if cached:
        return cached, repo_id
    target = os.path.join(models_dir, local_name(repo_id))
    if not allow_download:
        raise ModelUnavailable(
            f"{source.what} '{name}' ({repo_id}) is not downloaded and downloads are off",
            file=target, hint="allow downloads (drop --offline / unset HF_HUB_OFFLINE / "
            f"enable Online Access in Blender), or put the model's folder "
            f"({source.missing_hint}) at {target}")
    return source.download(repo_id, target, progress), repo_id


def resolve_depth_model(name, models_dir, allow_download, progress=None):
    """:func:`resolve` for depth models (transformers ``AutoModelForDepthEstimation``)."""
    return resolve(DEPTH_SOURCE, name, models_dir, allow_download, progress)


def _from_hf_cache(repo_id):
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(repo_id, local_files_only=True, allow_patterns=MODEL_FILES)
    except Exception:
        return None
    return path if _is_model_dir(path) else None


def _download(repo_id, target, progress):
    from huggingface_hub import snapshot_download

    tqdm_class = _progress_tqdm(progress) if progress else None
    partial = target + ".partial"
    try:
        snapshot_download(repo_id, local_dir=partial, allow_patterns=MODEL_FILES,
                          tqdm_class=tqdm_class)
    except Exception as exc:
        raise ModelUnavailable(
            f"cannot download depth model {repo_id}: {download_failure(exc)}", file=target,
            hint="check the internet connection, or put the model folder there by hand; "
            "--depth-model inflate needs no model") from None
    if not any(f.endswith(".safetensors") for f in os.listdir(partial)):
        raise ModelUnavailable(f"{repo_id} has no safetensors weights", file=target,
                               hint="choose a model published with .safetensors files")
    os.replace(partial, target)
    return target


def download_failure(exc):
    """Why a hub download failed, for the error line: the hub unreachable, else the
    exception's type."""
    name = type(exc).__name__
    if "LocalEntryNotFound" in name or "Connect" in name:
        return "the Hugging Face Hub cannot be reached"
    return name


def _progress_tqdm(progress):
    from tqdm.auto import tqdm

    class ReportingTqdm(tqdm):
        def update(self, n=1):
            out = super().update(n)
            if self.total:
                progress(self.n / self.total, f"Downloading model {self.n / 1e6:.0f} of "
                         f"{self.total / 1e6:.0f} MB")
            return out

    return ReportingTqdm


DEPTH_SOURCE = ModelSource(
    "depth model", DEPTH_MODELS, "config.json", _is_model_dir, _from_hf_cache, _download,
    folder_hint="give a folder saved with save_pretrained()", names_hint="auto, inflate, ",
    missing_hint="config.json, preprocessor_config.json, model.safetensors; "
    "--depth-model inflate needs no model")
