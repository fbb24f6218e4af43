"""What a batch will do, before any work: the command line (the single run's, with several
inputs and the batch's options), the photos (files, folders, globs), one output name per
photo, and the settings key that decides whether a finished result can be kept.

Output names: ``OUT/<stem>.<format>`` with the photo's name as ``<stem>``.  Photos that
would share a stem (``a.jpg`` and ``a.png``, or two ``a.jpg`` from two folders) keep it in
the order they were given for the first one; the others get their extension added
(``a_png``), then a number (``a_png_2``); so does a photo one of whose result's files
(mesh, sidecar, texture, .mtl, preview) would be a photo of the batch or a file of an
earlier photo's result -- the same inputs always give the same names.  A control
character (line break, tab ...) in a photo's name becomes ``_`` in its result's names.
"""

import argparse
import contextlib
import hashlib
import io
import json
import os

from ... import __version__
from ..catalog import CONTROL_CHARACTERS
from ..command.arguments import build_parser as single_parser
from ..command.arguments import check_ray_args
from ..errors import Img2MeshError
from ..output import owners

FORMATS = ("ply", "obj", "glb")
MESH_EXTENSIONS = tuple(f".{f}" for f in FORMATS)
#: options that only say how the batch runs, not what a result holds
_NOT_SETTINGS = {"input", "output", "preview", "json", "quiet", "verbose", "overwrite", "ray",
                 "max_size_given",
                 "ray_actors", "recursive", "device", "download", "batch_info"}
_BATCH_ONLY = ("--ray", "--ray-actors", "--overwrite", "--format", "--recursive")


def build_parser():
    """The single run's parser with several inputs and the batch's options."""
    p = single_parser(batch=True)
    p.usage = ("img2mesh PHOTO|FOLDER|GLOB [...] -o FOLDER [options]\n"
               "       img2mesh INPUT -o OUT.ply [options]  (one photo)\n"
               "       img2mesh --prompt TEXT -o OUT.ply [options]")
    g = p.add_argument_group("batch (several photos, a folder or a glob)")
    g.add_argument("--format", choices=FORMATS, default="ply",
                   help="mesh format of a batch's results (default: %(default)s)")
    g.add_argument("--recursive", action="store_true",
                   help="take the image files of folders' subfolders too")
    g.add_argument("--overwrite", action="store_true",
                   help="redo photos whose result is already there with the same settings")
    return p


def _is_glob(text):
    return any(c in text for c in "*?[")


def is_batch(argv):
    """True when ``argv`` asks for a batch: more than one input or a batch-only option;
    or one folder, glob or an existing folder as ``-o`` -- unless ``-o`` names a mesh
    file (then it is the single run, which says what is wrong)."""
    if any(a in ("-h", "--help") for a in argv):
        return True  # the batch's help is the single run's and more
    p = build_parser()
    try:  # whatever this would print, the real parse says
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            args, _ = p.parse_known_intermixed_args(argv)
    except (SystemExit, Img2MeshError):  # --version, or an error the single run reports
        return False
    inputs = args.input or []
    if args.prompt is not None or args.download is not None:
        return False
    if len(inputs) > 1 or any(a.split("=")[0] in _BATCH_ONLY for a in argv):
        return True
    if not inputs or (args.output and args.output.lower().endswith(MESH_EXTENSIONS)):
        return False  # one input, one mesh file: the single run (and its errors)
    return (os.path.isdir(inputs[0]) or (_is_glob(inputs[0]) and not os.path.exists(inputs[0]))
            or bool(args.output and (os.path.isdir(args.output) or args.output.endswith("/"))))


def check(p, args):
    """Batch-specific argument errors (argparse's one line, exit 2)."""
    if args.prompt is not None:
        p.error("--prompt makes one picture: it cannot be combined with several inputs")
    if args.download is not None:
        p.error("--download gets a model and nothing else: drop the inputs")
    if args.mask or args.depth_map:
        p.error("--mask and --depth-map belong to one photo: run those photos one by one")
    if not args.input:
        p.error("give photos, folders or glob patterns")
    if args.output and args.output.lower().endswith(MESH_EXTENSIONS):
        p.error(f"-o of a batch is a folder, not a mesh file ({args.output}): give a "
                "folder and --format ply|obj|glb")
    check_ray_args(p, args)
    if isinstance(args.preview, str) and args.preview.lower().endswith(".png"):
        p.error("in a batch --preview takes a folder or nothing (one PNG per photo): put it "
                "after the photos or write --preview=FOLDER")


def output_folder(path):
    """The batch's output folder, made absolute and created when missing."""
    path = os.path.abspath(os.path.expanduser(path or "."))
    if os.path.exists(path) and not os.path.isdir(path):
        raise Img2MeshError(f"-o must be a folder for several photos, but is a file: {path}",
                            file=path, hint="give a folder (created if missing)",
                            kind="output")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise Img2MeshError(f"cannot create the output folder {path}: {exc.strerror}",
                            file=path, hint="choose a folder you can write to",
                            kind="output") from None
    return path


def result_names(stem, folder, fmt, preview):
    """Every path the result of ``stem`` may write: mesh, sidecar, both texture formats
    (the photo decides which), the .mtl and the preview."""
    names = [f"{stem}.{fmt}", f"{stem}.json", f"{stem}_texture.jpg", f"{stem}_texture.png"]
    if fmt == "obj":
        names.append(f"{stem}.mtl")
    paths = [os.path.join(folder, n) for n in names]
    if preview is True:
        paths.append(os.path.join(folder, f"{stem}_preview.png"))
    elif preview:
        paths.append(os.path.join(os.path.abspath(preview), f"{stem}.png"))
    return paths


def stems(photos, names=None):
    """One output stem per photo (see the module's docstring); with ``names`` (stem ->
    the paths its result may write, :func:`result_names`) also none of whose paths is a
    photo of the batch or a path of an earlier photo's result."""
    def fold(path):
        return owners.key(path).lower()

    taken, out = set(), []
    reserved = {fold(p) for p in photos} if names else set()
    for path in photos:
        stem, ext = os.path.splitext(os.path.basename(path))
        for name in _candidates(CONTROL_CHARACTERS.sub("_", stem), ext):
            paths = {fold(p) for p in names(name)} if names else set()
            if name.lower() not in taken and not paths & reserved:
                break
        taken.add(name.lower())
        reserved |= paths
        out.append(name)
    return out


def _candidates(stem, ext):
    yield stem
    base = f"{stem}_{ext.lstrip('.').lower()}" if ext else stem
    yield base
    n = 2
    while True:
        yield f"{base}_{n}"
        n += 1


def settings_key(args, photo):
    """A hash of what makes a result: the options that change it, the photo's path,
    modification time and size, and the version."""
    relevant = {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_SETTINGS}
    relevant["preview"] = bool(args.preview)
    try:
        st = os.stat(photo)
        stamp = [st.st_mtime_ns, st.st_size]
    except OSError:
        stamp = None
    text = json.dumps([relevant, os.path.realpath(photo), stamp, __version__], sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def photo_args(args, photo, stem, out, index, key):
    """The single run's namespace for one photo of the batch."""
    ns = argparse.Namespace(**vars(args))
    ns.input, ns.output = photo, os.path.join(out, f"{stem}.{args.format}")
    if args.preview is True:
        ns.preview = os.path.join(out, f"{stem}_preview.png")
    elif args.preview:
        ns.preview = os.path.join(os.path.abspath(args.preview), f"{stem}.png")
    ns.batch_info = {"photo": index, "settings": key}
    return ns


def finished(ns):
    """The outputs of a complete earlier result made with the same settings, or None:
    its sidecar lists this mesh (and this preview) and every file it lists is there with
    the size it recorded (:func:`owners.complete`)."""
    sidecar = os.path.splitext(ns.output)[0] + ".json"
    data = owners.read_sidecar(sidecar)
    if data is None or not isinstance(data.get("batch"), dict) or \
            data["batch"].get("settings") != ns.batch_info["settings"]:
        return None
    listed = {owners.key(p) for p in data["outputs"]}
    if owners.key(data["mesh"]) != owners.key(ns.output) or \
            (ns.preview and owners.key(ns.preview) not in listed) or \
            not owners.complete(data, sidecar):
        return None
    return data["outputs"]
