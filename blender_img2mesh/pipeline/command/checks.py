"""Up-front checks of the command line's values, before anything heavy is imported.

Every numeric option is checked to be a finite number inside a sensible range (the
option's name and the range in the message); path options must be strings the file
system can take; a model *folder* given by path is looked at (config files, weights)
and ``--device cuda``/``mps`` is compared with what the machine and the installed torch
can do -- all in milliseconds, so a wrong value never costs the 15-20 s of importing
torch, transformers and rembg.  Failures raise :class:`UsageError` (exit 2).
"""

import glob
import importlib.util
import math
import os
import stat
import sys

from .. import catalog
from ..errors import Img2MeshError

#: dest -> (option, low, high, what it is); ints are checked to be whole numbers
RANGES = catalog.RANGES
#: options that name files or folders
PATHS = (("input", "INPUT"), ("output", "--output"), ("preview", "--preview"),
         ("mask", "--mask"), ("depth_map", "--depth-map"), ("models_dir", "--models-dir"),
         ("depth_model", "--depth-model"), ("t2i_model", "--t2i-model"),
         ("segmenter", "--segmenter"), ("download", "--download"),
         ("cameras", "--cameras"))


class UsageError(Img2MeshError):
    """A bad command line (or worker request): one line, exit 2, nothing run."""

    def __init__(self, message, *, file=None, hint="see img2mesh --help", kind="input"):
        super().__init__(message, file=file, hint=hint, kind=kind)


def _fmt(x):
    text = f"{x:g}" if isinstance(x, float) else str(x)
    return text if len(text) <= 24 else text[:20] + "..."


def numbers(args):
    """Each numeric option given: a finite number in its range."""
    for dest, (option, lo, hi, what) in RANGES.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        whole = isinstance(lo, int)
        finite = whole or math.isfinite(value)  # (an int of 400 digits has no float)
        if not (finite and lo <= value <= hi):
            kind = "a whole number" if whole else "a number"
            raise UsageError(f"{option} must be {kind} from {_fmt(lo)} to {_fmt(hi)} "
                             f"({what}), got {_fmt(value)}", hint=None)


def paths(args):
    """Path-like options: no NUL character, encodable for the file system."""
    for dest, option in PATHS:
        value = getattr(args, dest, None)
        if value is None:
            continue
        if "\0" in value:
            raise UsageError(f"{option} contains a NUL character", hint=None)
        try:
            os.fsencode(value)
        except UnicodeError:
            raise UsageError(f"{option} is not a valid file name: {value!r}",
                             hint=None) from None
    if args.preview is not None and \
            os.path.splitext(args.preview)[1].lower() != ".png":
        stem = os.path.splitext(os.path.basename(args.preview))[0] or "preview"
        raise UsageError(f"--preview must be a .png file: {args.preview}",
                         file=args.preview, hint=f"e.g. --preview {stem}.png", kind="output")


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))
#: dest -> (what it is, option) of the options that name a file the run reads
READ_FILES = (("input", "photo", "INPUT"), ("mask", "mask", "--mask"),
              ("depth_map", "depth map", "--depth-map"))


def file_kind(path):
    """None when ``path`` is a regular file (symlinks followed) or does not exist;
    else what it is ("a named pipe (FIFO)", "a folder", ...)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def not_a_file(path, what):
    """The :class:`UsageError` for ``path`` (the ``what``) when it exists and is no
    regular file -- a named pipe, a device or a socket would block or never end a
    read -- else None."""
    kind = file_kind(path)
    if kind is None:
        return None
    hint = "give the path of an image file inside it" if kind == "a folder" else \
        f"give a regular file (save the {what} to a file first)"
    return UsageError(f"{what} is {kind}, not a file: {path}", file=path, hint=hint)


def read_files(args):
    """The photo, ``--mask`` and ``--depth-map``: regular files when they exist (a
    missing one is reported where it is read)."""
    read_paths({dest: getattr(args, dest, None) for dest, _, _ in READ_FILES})


def read_paths(values):
    """:func:`read_files` for ``{dest: path}`` (a job's files)."""
    for dest, what, _ in READ_FILES:
        value = values.get(dest)
        err = value and not_a_file(value, what)
        if err:
            raise err


def models_folder(args):
    """``--models-dir`` or ``$IMG2MESH_MODELS``: a folder, or a path where one can be
    made (not a file, nor inside one)."""
    given = getattr(args, "models_dir", None)
    name, option = (given, "--models-dir") if given else \
        (os.environ.get("IMG2MESH_MODELS"), "IMG2MESH_MODELS")
    if not name:
        return
    path = os.path.abspath(os.path.expanduser(name))
    probe = path
    while probe and not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.path.exists(probe) and not os.path.isdir(probe):
        where = "is a file" if probe == path else f"is inside a file ({probe})"
        raise UsageError(f"{option} must name a folder for the models, but {path} {where}",
                         file=path, hint=f"set {option} to a folder (created if missing)"
                         + (" or unset it" if option == "IMG2MESH_MODELS" else ""),
                         kind="model")


def _folder(name, what, option, needs):
    """A model given as an existing folder must hold ``needs`` (glob patterns); a name
    that is clearly a path must exist."""
    expanded = os.path.expanduser(name)
    if os.path.isdir(expanded):
        for patterns, label in needs:  # one of the patterns must match
            if not any(glob.glob(os.path.join(expanded, p)) for p in patterns):
                raise UsageError(f"{what} folder has no {label}: {expanded}", file=expanded,
                                 hint=f"{option} needs a folder saved with "
                                 "save_pretrained() or an ONNX repository's folder, a "
                                 "model name, or a hub id",
                                 kind="model")
    elif catalog.looks_like_path(name):
        raise UsageError(f"{what} folder not found: {expanded}", file=expanded,
                         hint=f"check the path given to {option}", kind="model")


def model_folders(args):
    """``--depth-model DIR`` and ``--t2i-model DIR``, before any import of torch."""
    if args.depth_model not in ("auto", "inflate") and not args.depth_map:
        _folder(args.depth_model, "depth model", "--depth-model",
                ((("config.json",), "config.json"),
                 (("*.safetensors", "onnx/*.onnx"), ".safetensors weights or onnx/*.onnx")))
    if args.prompt is not None:
        _folder(args.t2i_model, "text-to-image model", "--t2i-model",
                ((("model_index.json",), "model_index.json"),))


def _torch_build():
    """``(installed, gpu build)`` of torch, read from its version file without importing
    it; ``(False, False)`` when torch is not installed, ``(True, None)`` if unknown."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return False, False
    path = os.path.join(list(spec.submodule_search_locations)[0], "version.py")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return True, None
    gpu = [line.split("=", 1)[1].strip() for line in text.splitlines()
           if line.startswith(("cuda", "hip")) and "=" in line]
    return True, (any(v != "None" for v in gpu) if gpu else None)


def _gpu_driver():
    """Whether the machine has a CUDA (or ROCm) driver: False when surely not, True when
    there seems to be one (torch decides for sure when the model loads)."""
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        return any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidia0",
                                               "/dev/nvidiactl", "/dev/dxg", "/dev/kfd"))
    if os.name == "nt":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        return os.path.exists(os.path.join(root, "System32", "nvcuda.dll"))
    return True


def device(args):
    """``--device cuda``/``mps`` that this machine cannot give: refused at once."""
    if args.device == "mps" and sys.platform != "darwin":
        raise UsageError("--device mps needs a Mac with Apple silicon", hint="use --device "
                         "auto or cpu")
    if args.device != "cuda":
        return
    installed, gpu_build = _torch_build()
    if installed and gpu_build is False:
        raise UsageError("--device cuda was asked for but the installed torch is built "
                         "without CUDA", hint="install a CUDA build of torch, or use "
                         "--device auto or cpu")
    if not _gpu_driver():
        raise UsageError("--device cuda was asked for but this machine has no NVIDIA (CUDA) "
                         "driver", hint="use --device auto or cpu")


def unused_device(args):
    """A warning when ``--device`` is given but no network will run (inflation or a
    given depth map, no prompt): the option is accepted and has no effect."""
    if args.device in ("cuda", "mps") and args.prompt is None and args.download is None \
            and (args.depth_model == "inflate" or args.depth_map):
        how = "--depth-map" if args.depth_map else "--depth-model inflate"
        return f"--device {args.device} has no effect with {how} (no network runs)"
    return None


def _installed(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def prompt_runtime(args):
    """A text prompt on an install without PyTorch (the add-on's light one): refused at
    once, before any model is downloaded, saying what to install."""
    if args.prompt is None:
        return
    missing = [m for m in ("torch", "diffusers", "transformers") if not _installed(m)]
    if missing:
        raise UsageError("--prompt (text to image) needs " + ", ".join(missing) +
                         ", not installed here", kind="model",
                         hint="pip install torch diffusers transformers (the command line's "
                         "full install), or give a photo: everything else runs without them")


def views_runtime(args):
    """``--views`` on an install without the multi-view part (the add-on's light one has
    none of it): refused at once, saying what to install."""
    if not getattr(args, "views", None):
        return
    needs = ["xatlas", "torch"] + ([] if getattr(args, "cameras", None) else ["pycolmap"])
    missing = [m for m in needs if not _installed(m)]
    if missing:
        raise UsageError("--views (one object from several photos) needs " +
                         ", ".join(missing) + ", not installed here", kind="model",
                         hint="pip install pycolmap xatlas torch (the command line's full "
                         "install: requirements.txt; in Blender: Install PyTorch in the "
                         "add-on's preferences); single photos run without them")


def check_all(args):
    numbers(args)
    paths(args)
    read_files(args)
    models_folder(args)
    device(args)
    model_folders(args)
    prompt_runtime(args)
    views_runtime(args)
