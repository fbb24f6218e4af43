"""Depth from a ready ONNX repository of the Hub (:data:`catalog.DEPTH_ONNX_REPOS`;
transformers.js's layout: ``config.json``, ``preprocessor_config.json``, ``onnx/*.onnx``):
onnxruntime, numpy and Pillow only -- no torch, no transformers, no export.

:func:`locate` decides where a depth model comes from:

* a folder given by path: an ONNX repository's (``onnx/*.onnx`` beside ``config.json``)
  runs its network; a transformers folder takes the local export / PyTorch;
* a model with a ready ONNX repository (an alias of the catalog, an ``onnx-community/``
  or ``Xenova/`` id, or any hub id when torch is not installed), unless ``--depth-backend
  torch`` or ``export`` asks for PyTorch: the repository's folder in the models folder or
  the Hugging Face cache; with ``--depth-backend auto``, a transformers copy already on
  disk when torch is installed (nothing to download); else a download (when allowed) of
  the two JSON files and the one network of the variant (:data:`catalog.
  DEPTH_VARIANT_FILES`) into ``<models>/<org>--<name>``; another variant later joins
  the same folder.  Same progress, all-or-nothing and offline rules as every download
  (:func:`models.downloading`);
* anything else: the transformers model (:func:`models.resolve_depth_model`), which needs
  torch; without it one clear error says what to install.
"""

import contextlib
import glob
import importlib.util
import os

from .. import catalog, models
from ..errors import Img2MeshError, ModelUnavailable
from . import onnx_run
from . import prep as depth_prep

CONFIGS = ["config.json", "preprocessor_config.json"]
#: organisations whose repositories hold ONNX networks in this layout
ONNX_ORGS = ("onnx-community", "Xenova")
TORCH_HINT = ("install PyTorch and transformers (pip install torch transformers: the "
              "command line's full install), or use a model with a ready ONNX repository: "
              + ", ".join(catalog.DEPTH_ONNX_REPOS))


def variant_name(variant):
    """``auto`` (or None) -> :data:`catalog.DEFAULT_DEPTH_VARIANT`; others as given."""
    return catalog.DEFAULT_DEPTH_VARIANT if variant in (None, "auto") else variant


def network(folder, variant):
    """The path of ``variant``'s network in the ONNX repository folder ``folder``, or None."""
    for rel in catalog.DEPTH_VARIANT_FILES[variant_name(variant)]:
        path = os.path.join(folder, *rel.split("/"))
        if os.path.isfile(path):
            return path
    return None


def is_repo(folder):
    """Whether ``folder`` holds an ONNX repository (config.json and onnx/*.onnx)."""
    nets = os.path.join(folder, "onnx")
    return os.path.isfile(os.path.join(folder, "config.json")) and os.path.isdir(nets) and \
        any(n.endswith(".onnx") for n in os.listdir(nets))


def in_hub_cache(folder):
    """Whether ``folder`` is a snapshot of the Hugging Face cache (``.../snapshots/<rev>``),
    which gets no files of ours."""
    return os.path.basename(os.path.dirname(os.path.abspath(folder))) == "snapshots"


def torch_installed():
    """Whether torch and transformers can be imported (looked up, not imported)."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))
    except (ImportError, ValueError):
        return False


def source(variant):
    """The :class:`models.ModelSource` of ONNX repositories, for one variant."""
    variant = variant_name(variant)
    files = list(catalog.DEPTH_VARIANT_FILES[variant])

    def ready(folder):
        return all(os.path.isfile(os.path.join(folder, c)) for c in CONFIGS) and \
            network(folder, variant) is not None

    def from_cache(repo_id):
        try:
            from huggingface_hub import snapshot_download

            path = snapshot_download(repo_id, local_files_only=True,
                                     allow_patterns=CONFIGS + files)
        except Exception:
            return None
        return path if ready(path) else None

    def download(repo_id, target, progress):
        merge = all(os.path.isfile(os.path.join(target, c)) for c in CONFIGS)
        with models.downloading(
                "depth model", repo_id, target, progress, merge=merge,
                hint="check the internet connection and try again, or put the "
                "repository's folder there by hand; --depth-model inflate needs no "
                "model") as get:
            partial = get(([] if merge else CONFIGS) + files[:1])
            for rel in files[1:]:  # Xenova's int8 is model_quantized.onnx
                if network(partial, variant) is None:
                    get([rel])
            if network(partial, variant) is None or not (merge or ready(partial)):
                missing = " or ".join(files) if network(partial, variant) is None else \
                    " and ".join(CONFIGS)
                raise ModelUnavailable(
                    f"{repo_id} is no ONNX depth repository with a {variant} network "
                    f"(no {missing})", file=target, hint="choose another --depth-variant "
                    "or a model of the catalog" + ("" if torch_installed() else
                                                   "; a transformers model needs PyTorch: "
                                                   "pip install torch transformers"))
        return target

    return models.ModelSource(
        "depth model", {a: (r,) for a, r in catalog.DEPTH_ONNX_REPOS.items()},
        f"config.json and {files[0]}", ready, from_cache, download,
        folder_hint="give an ONNX repository's folder", names_hint="auto, inflate, ",
        missing_hint=f"config.json, preprocessor_config.json, {files[0]}; "
        "--depth-model inflate needs no model")


def onnx_repo_id(name):
    """The ONNX repository of model ``name`` (an alias, its transformers hub id, or a hub
    id: ``onnx-community/`` and ``Xenova/`` ones, any when torch is missing), or None."""
    alias = _ALIAS_OF.get(name, name)
    if alias in catalog.DEPTH_ONNX_REPOS:
        return catalog.DEPTH_ONNX_REPOS[alias]
    if name.count("/") == 1 and all(name.split("/")) and not catalog.looks_like_path(name):
        if name.split("/")[0] in ONNX_ORGS or name in catalog.DEPTH_ONNX_REPOS.values() or \
                (name not in _ALIAS_OF and not torch_installed()):
            return name
    return None


#: a catalog model's transformers hub id -> its alias
_ALIAS_OF = {hub: alias for alias, (hub, *_) in catalog.DEPTH_MODELS.items()}


def needs_torch(name):
    """One clear error: depth model ``name`` runs only through torch, which is missing."""
    return Img2MeshError(f"depth model {name} has no ready ONNX repository and needs "
                         "PyTorch, which is not installed", kind="model", hint=TORCH_HINT)


def locate(name, models_dir, allow_download, progress=None, backend="auto", variant="auto"):
    """``(folder, hub_id or None, network)`` of depth model ``name`` (see the module doc):
    ``network`` is the ONNX file to run for an ONNX repository, None for a transformers
    model (:func:`estimate.load_estimator`).  Raises :class:`ModelUnavailable` when the
    model is not on disk and may not be downloaded."""
    variant = variant_name(variant)
    wants_torch = backend in ("torch", "export")
    expanded = os.path.expanduser(name)
    if os.path.isdir(expanded) and is_repo(expanded) and not (
            wants_torch and os.path.isfile(os.path.join(expanded, "model.safetensors"))):
        path = network(expanded, variant)
        if path is None:
            have = sorted(n for n in os.listdir(os.path.join(expanded, "onnx"))
                          if n.endswith(".onnx"))
            raise Img2MeshError(
                f"the ONNX repository folder has no {variant} network ("
                + " or ".join(catalog.DEPTH_VARIANT_FILES[variant]) + ")", file=expanded,
                kind="model", hint="it has " + ", ".join(have) + "; choose the matching "
                "--depth-variant (model.onnx fp32, model_fp16.onnx fp16, model_int8.onnx or "
                "model_quantized.onnx int8)")
        return os.path.abspath(expanded), None, path
    repo = None if os.path.isdir(expanded) else onnx_repo_id(name)
    if repo is not None and not wants_torch:
        onnx_source = source(variant)
        label = name if name in catalog.DEPTH_ONNX_REPOS else repo
        try:  # on disk already: no download, whatever is allowed
            folder, hub = models.resolve(onnx_source, label, models_dir, False)
            return folder, hub, network(folder, variant)
        except ModelUnavailable:
            pass
        if backend == "auto" and (name in catalog.DEPTH_MODELS or name in _ALIAS_OF) \
                and torch_installed():
            try:  # the transformers copy a user has already
                folder, hub = models.resolve_depth_model(name, models_dir, False)
                if not is_repo(folder):
                    return folder, hub, None
            except ModelUnavailable:
                pass
        folder, hub = models.resolve(onnx_source, label, models_dir, allow_download, progress)
        return folder, hub, network(folder, variant)
    if not torch_installed() and (name in catalog.DEPTH_MODELS or os.path.isdir(expanded)
                                  or name in _ALIAS_OF or wants_torch):
        raise needs_torch(name)
    # (an unknown name or a missing folder: resolve_depth_model says so)
    folder, hub = models.resolve_depth_model(name, models_dir, allow_download, progress)
    return folder, hub, None


def load(folder, path, device="auto", reporter=None, spin=True, keep_optimized=True):
    """The :class:`onnx_run.OnnxDepthEstimator` of network ``path`` of the ONNX
    repository ``folder``.  ``keep_optimized``: keep onnxruntime's optimised graph beside
    the network (``*.ort<version>-cpu.onnx``; 0.5-2 s of each session's start; not in the
    Hugging Face cache, :func:`in_hub_cache`)."""
    try:
        depth_prep.read_config(folder)
    except depth_prep.Unsupported as why:
        raise Img2MeshError(f"ONNX Runtime does not run this model ({why})", file=folder,
                            kind="model", hint=TORCH_HINT) from None
    provider_list, tried = onnx_run.providers(device)
    if provider_list is None:
        raise Img2MeshError(f"onnxruntime has no provider for --device {device} (tried "
                            f"{tried})", kind="model", hint="install the onnxruntime build "
                            "for that device, or use --device auto or cpu")
    if reporter is not None:
        reporter.update(0.8, "Creating the ONNX Runtime session "
                        f"({os.path.basename(os.path.normpath(folder))}, "
                        f"{os.path.basename(path)})", phase="build")
    if keep_optimized:
        _drop_stale_graphs(path)
    return onnx_run.OnnxDepthEstimator(folder, path, provider_list, spin, repo=True,
                                       optimized=keep_optimized)


def _drop_stale_graphs(path):
    """Remove the optimised graphs of ``path`` that other onnxruntime versions made."""
    from . import onnx_cache

    current = onnx_cache.optimized_path(path)
    for old in glob.glob(glob.escape(path[:-len(".onnx")]) + ".ort*-cpu.onnx"):
        if old != current:
            with contextlib.suppress(OSError):
                os.remove(old)
