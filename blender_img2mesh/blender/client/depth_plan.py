"""What depth will really come from, said before Generate (no bpy, no pipeline run):
the panel's "Depth: Auto -> silhouette inflation (offline)" line.

Cheap enough for every redraw: a few ``os.path`` checks against the models folder and
the Hugging Face cache, with the pipeline's light :mod:`..pipeline.models` (standard
library only) naming the models and folders as the worker will.
"""

import glob
import os

from ...pipeline import catalog, models

#: names shown for the depth models the panel offers, and their download sizes (the
#: preferences' Models box says the same)
LABELS = {name: label for name, (label, _) in catalog.PANEL_DEPTH_MODELS.items()}
SIZES = {name: size for name, (_, size) in catalog.PANEL_DEPTH_MODELS.items()}


class Plan:
    """``text``: all of it (the depth line's tooltip); ``short``: the same in fewer
    words (a text, or texts from longer to shorter: the line shows the longest of
    ``forms`` that fits the sidebar); ``ok`` (False: the run will fail
    or fall back); ``fails``: Generate cannot work (a fallback is not a failure);
    ``download``: the model name a Download button should fetch, or None."""

    def __init__(self, text, ok=True, download=None, short=None, fails=False):
        self.text, self.ok, self.download = text, ok, download
        self.short = short or text
        self.fails = fails

    @property
    def forms(self):
        """The line's forms, from all of it to the shortest."""
        return (self.text, *((self.short,) if isinstance(self.short, str) else self.short))

    def __repr__(self):
        return (f"Plan({self.text!r}, ok={self.ok}, download={self.download!r}, "
                f"short={self.short!r}, fails={self.fails})")


def hf_cache_dir():
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return os.path.expanduser(os.environ[var])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "huggingface")
    return os.path.join(os.path.expanduser(home), "hub")


def present(name, models_dir):
    """Where depth model ``name`` (an alias or ``org/name``) is already on disk -- the
    models folder or the Hugging Face cache, its ready ONNX repository or its transformers
    copy, as the worker looks -- or None.  (Any variant: the worker fetches another one
    in seconds.)"""
    repo_id = models.DEPTH_MODELS[name][0] if name in models.DEPTH_MODELS else name
    onnx_id = catalog.DEPTH_ONNX_REPOS.get(name)  # its ready ONNX repository, if any
    names = [name, models.local_name(repo_id)] + ([models.local_name(onnx_id)] if onnx_id
                                                  else [])
    for candidate in names:
        folder = os.path.join(models_dir, candidate)
        if models_dir and os.path.isfile(os.path.join(folder, "config.json")):
            return folder
    for hub_id in filter(None, (onnx_id, repo_id)):
        if hub_id.count("/") != 1:
            continue
        pattern = os.path.join(hf_cache_dir(), "models--" + hub_id.replace("/", "--"),
                               "snapshots", "*", "config.json")
        found = glob.glob(pattern)
        if found:
            return os.path.dirname(found[0])
    return None


def plan(depth_model, custom="", depth_map="", models_dir="", offline=False):
    """The :class:`Plan` for the panel's settings (``depth_model``: ``auto``,
    ``inflate``, an alias or ``CUSTOM`` with ``custom`` a hub id or a folder;
    ``offline``: downloads are off, whatever the reason)."""
    models_dir = models_dir or models.default_models_dir()
    if depth_map:
        name = os.path.basename(depth_map)
        return Plan(f"Depth: from the file {name}", short=f"Depth: file {name}")
    if depth_model == "inflate":
        return Plan("Depth: silhouette inflation (no network)",
                    short=("Depth: silhouette inflation", "Depth: inflation"))
    name = custom.strip() if depth_model == "CUSTOM" else depth_model
    if depth_model == "CUSTOM":
        if not name:
            return Plan("Depth: Custom - no hub id or folder set (Model)", ok=False,
                        short=("Depth: Custom - no model set", "Depth: no model set"),
                        fails=True)
        expanded = os.path.expanduser(name)
        if os.path.isdir(expanded) or catalog.looks_like_path(name):
            if os.path.isfile(os.path.join(expanded, "config.json")):
                base = os.path.basename(os.path.normpath(expanded))
                return Plan(f"Depth: folder {base}")
            return Plan(f"Depth: no model folder at {name}", ok=False,
                        short=("Depth: no model folder there", "Depth: not a model folder"),
                        fails=True)
    wanted = models.DEFAULT_DEPTH_MODEL if name == "auto" else name
    label = LABELS.get(wanted, wanted)
    prefix = "Depth: Auto -> " if name == "auto" else "Depth: "
    if present(wanted, models_dir):
        return Plan(prefix + label, short=(f"Depth: {label}", label))
    size = SIZES.get(wanted)
    fetch = wanted if models.download_folder(wanted, models_dir) else None
    if offline:
        if name == "auto":
            return Plan(f"{prefix}silhouette inflation (offline: {label} not downloaded)",
                        ok=False, download=fetch, short="Depth: inflation (offline)")
        return Plan(f"{prefix}{label} - not downloaded" + (f" ({size})" if size else ""),
                    ok=False, download=fetch, fails=True,
                    short=("Depth: model not downloaded", "Depth: not downloaded"))
    return Plan(f"{prefix}{label} - downloads on first run" + (f" ({size})" if size else ""),
                download=fetch,
                short=("Depth: downloads on first run", "Depth: will download"))
