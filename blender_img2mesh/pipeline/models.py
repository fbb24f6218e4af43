"""Where depth models come from: a local folder first, then the Hugging Face cache, then
(only when allowed) a download of the safetensors files into the models folder.

Names: an alias below, a hub id ``org/name``, or a local folder holding a transformers
model (``config.json`` + ``model.safetensors`` + ``preprocessor_config.json``).
"""

import contextlib
import os
import shutil
import threading

from .catalog import (DEFAULT_DEPTH_MODEL, DEPTH_MODELS, DEPTH_ONNX_REPOS,  # noqa: F401
                      REMBG_MODELS, T2I_MODELS, looks_like_path)
from .errors import Img2MeshError, ModelUnavailable

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


#: environment variables that turn downloads off (set to 1, true, yes or on)
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "IMG2MESH_OFFLINE")


def offline_variable():
    """The first of :data:`OFFLINE_VARIABLES` that is set (downloads are off), or None."""
    for var in OFFLINE_VARIABLES:
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return var
    return None


def models_folder(given=None):
    """The models folder, absolute: ``--models-dir`` when given, else the default."""
    return os.path.abspath(os.path.expanduser(given)) if given else default_models_dir()


def downloads_allowed(offline_flag=False):
    """False when ``--offline`` or the usual Hugging Face offline variables say so."""
    return not offline_flag and offline_variable() is None



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
    if looks_like_path(name):
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
    with downloading("depth model", repo_id, target, progress,
                     hint="check the internet connection and try again, or put the model "
                     "folder there by hand; --depth-model inflate needs no model") as get:
        partial = get(MODEL_FILES)
        if not any(f.endswith(".safetensors") for f in os.listdir(partial)):
            raise ModelUnavailable(f"{repo_id} has no safetensors weights", file=target,
                                   hint="choose a model published with .safetensors files")
    return target


def partial_folder(target):
    """Where a download into ``target`` gathers its files until it is complete."""
    return target + ".partial"


def download_folder(name, models_dir):
    """Where a download of model ``name`` goes in ``models_dir`` (its ``.partial`` folder
    is :func:`partial_folder` of it): a hub model's folder (an alias of a depth or
    text-to-image model -- a depth model's ready ONNX repository when it has one -- or
    ``org/name``), ``<models_dir>/<name>`` for rembg's models
    (whose files land flat beside it), None for anything else.  Light: the add-on uses it
    to clean up after Cancel."""
    if name in REMBG_MODELS:
        return os.path.join(models_dir, name)
    aliases = {**DEPTH_MODELS, **T2I_MODELS}
    repo_id = DEPTH_ONNX_REPOS.get(name) or (aliases[name][0] if name in aliases else name)
    if repo_id.count("/") != 1 or not all(repo_id.split("/")) or looks_like_path(repo_id):
        return None
    return os.path.join(models_dir, local_name(repo_id))


@contextlib.contextmanager
def downloading(what, repo_id, target, progress, hint, merge=False):
    """Download parts of hub repository ``repo_id`` into ``target``, all or nothing.
    ``merge``: ``target`` is a complete model folder already, and the files come into it
    (another network of an ONNX repository); else ``target`` must not exist.

    The block gets ``get(allow_patterns)``, which runs ``snapshot_download`` into a
    ``.partial`` folder beside ``target`` (call it more than once to add files) and returns
    that folder; the block may check what came and raise.  When the block ends well the
    folder becomes ``target``; on any failure -- a hub error, a cut connection, Ctrl-C --
    it is removed and a hub failure becomes one clear :class:`ModelUnavailable` line.  The
    hub client's own bookkeeping (refs) goes into the partial folder too, not the user's
    Hugging Face cache."""
    if os.path.lexists(target) and not merge:  # not a complete model: in the way
        raise ModelUnavailable(f"cannot download {what} {repo_id}: {target} is there but "
                               "holds no complete model", file=target,
                               hint="remove or rename it, then try again")
    partial = partial_folder(target)
    bookkeeping = os.path.join(partial, ".cache", "img2mesh-hub")
    tqdm_class = _progress_tqdm(progress) if progress else None

    def get(patterns):
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id, local_dir=partial, cache_dir=bookkeeping,
                          allow_patterns=patterns, tqdm_class=tqdm_class)
        return partial

    try:
        try:
            yield get
        except Img2MeshError:
            raise
        except Exception as exc:
            raise ModelUnavailable(f"cannot download {what} {repo_id}: "
                                   f"{download_failure(exc)}", file=target, hint=hint) from None
        shutil.rmtree(bookkeeping, ignore_errors=True)
        if merge:
            _merge(partial, target)
        else:
            os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _merge(partial, target):
    """Move every file of ``partial`` to the same place in ``target`` (each one whole),
    then remove ``partial``."""
    for root, _, names in os.walk(partial):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), partial)
            os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
            os.replace(os.path.join(partial, rel), os.path.join(target, rel))
    shutil.rmtree(partial)


def _causes(exc):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _file_of(exc):
    """The repository file a failed request was for (from its ``/resolve/`` URL), or ''."""
    try:
        url = str(exc.request.url)
    except Exception:
        return ""
    return url.split("/resolve/", 1)[1].split("/", 1)[-1] if "/resolve/" in url else ""


def download_failure(exc, where="the Hugging Face Hub"):
    """Why a download from ``where`` failed, in words, for the error line."""
    for cause in _causes(exc):
        name = type(cause).__name__
        status = getattr(getattr(cause, "response", None), "status_code", None)
        if name in ("RepositoryNotFoundError", "GatedRepoError") or (
                "HTTPError" in name and status in (401, 404) and "Entry" not in name):
            return f"{where} has no such model (or it is private or gated): check the name"
        if name == "RevisionNotFoundError":
            return f"{where} has no such revision of it"
        if "EntryNotFound" in name and "Local" not in name:
            return f"a file of it is missing on {where} ({name})"
        if name in ("RemoteProtocolError", "ReadError", "ReadTimeout", "WriteError",
                    "ChunkedEncodingError", "IncompleteRead") or (
                isinstance(cause, OSError) and "Consistency check failed" in str(cause)):
            where_in = _file_of(cause)
            return ("the connection broke off in the middle of the download"
                    + (f" (of {where_in})" if where_in else "") + f", {name}")
    name = type(exc).__name__
    if "LocalEntryNotFound" in name or "Connect" in name:
        return f"{where} cannot be reached"
    return name


class _Discard:
    """A text stream that drops what is written (library progress bars we replace)."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


DISCARD = _Discard()


def _progress_tqdm(progress):
    """A tqdm class that reports the bytes downloaded as ``progress(fraction, message)``.
    The total grows as files start, so the fraction reported never goes below the
    highest one so far."""
    from tqdm.auto import tqdm

    lock = threading.Lock()
    best = [0.0]

    class ReportingTqdm(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["file"] = DISCARD  # counted, never drawn: the reporter shows progress
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            out = super().update(n)
            if self.total and self.unit == "B":
                with lock:
                    best[0] = max(best[0], min(self.n / self.total, 1.0))
                    fraction = best[0]
                progress(fraction, f"Downloading model {self.n / 1e6:.0f} of "
                         f"{self.total / 1e6:.0f} MB")
            return out

    return ReportingTqdm


DEPTH_SOURCE = ModelSource(
    "depth model", DEPTH_MODELS, "config.json", _is_model_dir, _from_hf_cache, _download,
    folder_hint="give a folder saved with save_pretrained()", names_hint="auto, inflate, ",
    missing_hint="config.json, preprocessor_config.json, model.safetensors; "
    "--depth-model inflate needs no model")
