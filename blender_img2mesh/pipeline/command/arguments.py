"""The command line's arguments: the parser of ``img2mesh INPUT -o OUT.ply [options]`` /
``img2mesh --prompt TEXT ...`` (the batch's adds to it: :mod:`batch_plan`) and the checks
that need no heavy import.  Used by :mod:`cli`, :mod:`batch`, :mod:`batch_plan` and the
warm worker; it imports none of them.
"""

import argparse
import os

from ... import __version__
from ..catalog import (
    BACKS,
    COLOR_MODES,
    DEFAULT_DEPTH_MODEL,
    DEFAULT_DEPTH_VARIANT,
    DEFAULT_FOV,
    DEFAULT_SEGMENTER,
    DEFAULT_T2I_MODEL,
    DEFAULTS,
    DEPTH_BACKENDS,
    DEPTH_KINDS,
    DEPTH_MODELS,
    DEPTH_VARIANTS,
    DEVICES,
    FRAMES,
    MESHERS,
    PROMPT_TEMPLATE,
    T2I_MODELS,
    TEXTURE_FORMATS,
)
from . import checks


#: --views' working size when --max-size is not given: COLMAP finds far fewer features on
#: a weakly textured object at 512 px (the L-block of the benchmark: 27 of 30 cameras, some
#: wrong, at 512; all 30 at 640)
VIEWS_MAX_SIZE = 1024


class _Given(argparse.Action):
    """Stores the value and notes that it was given (``<dest>_given``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, self.dest + "_given", True)


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`checks.UsageError` (one line, exit 2) instead of
    printing the usage block and exiting; ``--help`` and ``--version`` still exit."""

    def error(self, message):
        raise checks.UsageError(message)


def build_parser(batch=False):
    """The single run's parser; ``batch``: with several inputs, ``-o`` a folder too and
    ``--preview`` optionally bare (the batch's own options are added by :mod:`batch.plan`)."""
    p = Parser(
        prog="img2mesh", description="Turn a photo or a text prompt into a colored 3D mesh "
        "(.ply/.obj/.glb).",
        epilog="Depth models: auto, inflate, " + ", ".join(DEPTH_MODELS) +
        ", any hub id (org/name) or a local model folder.  See docs/cli.md and docs/models.md.")
    if batch:
        p.add_argument("input", nargs="*", help="photos, folders (their image files) or glob "
                       "patterns ('shots/*.jpg')")
        p.add_argument("-o", "--output", help="one photo or a prompt: the mesh file, .ply, "
                       ".obj or .glb (default: INPUT's name, or the prompt's words, with .ply, "
                       "in the current folder); a batch: the output folder (created if "
                       "missing; default: the current folder).  One photo with -o an existing "
                       "folder runs as a batch of one")
        p.add_argument("--preview", nargs="?", const=True, metavar="PNG|FOLDER",
                       help="also draw the mesh to this PNG (one photo); in a batch "
                       "--preview alone draws OUT/<name>_preview.png, --preview=FOLDER "
                       "FOLDER/<name>.png")
    else:
        p.add_argument("input", nargs="?", help="the photo (JPEG, PNG, WebP, TIFF, BMP); or "
                       "give --prompt instead")
        p.add_argument("-o", "--output", help="mesh file to write: .ply, .obj or .glb "
                       "(default: INPUT's name, or the prompt's words, with .ply, in the "
                       "current folder)")
        p.add_argument("--preview", metavar="PNG", help="also draw the mesh to this PNG file")
    add_prompt_args(p)
    add_views_args(p)
    g = p.add_argument_group("background removal")
    g.add_argument("--segmenter", default=DEFAULT_SEGMENTER, metavar="NAME",
                   help="rembg model for background removal (default: %(default)s)")
    g.add_argument("--mask", metavar="FILE", help="use this mask (white = object) instead")
    g.add_argument("--keep-background", action="store_true",
                   help="no background removal: reconstruct the whole picture")
    g = p.add_argument_group("depth")
    g.add_argument("--depth-model", default="auto", metavar="NAME_OR_DIR",
                   help=f"auto (default: {DEFAULT_DEPTH_MODEL} if available, else inflate), "
                   "inflate (no weights), a model name, hub id or folder")
    g.add_argument("--depth-map", metavar="FILE",
                   help="use this depth instead of a model (.npy, 16-bit PNG/TIFF, .exr)")
    g.add_argument("--depth-kind", choices=DEPTH_KINDS, default="auto",
                   help="what the depth holds: metric depth or relative inverse depth "
                   "(auto: known per model; metric for --depth-map)")
    g.add_argument("--depth-scale", type=float, default=None, metavar="F",
                   help="multiply a --depth-map by this (default 1; 0.001 for 16-bit "
                   "integer images, i.e. millimetres)")
    g.add_argument("--thickness", type=float, default=None, metavar="F",
                   help="depth of the visible part relative to its width, for relative "
                   "depth and inflation (default 0.5; metric depth is kept unless given)")
    g.add_argument("--device", choices=DEVICES, default="auto",
                   help="where the depth and text-to-image models run; auto: cuda, else mps, "
                   "else cpu (no effect with --depth-model inflate or --depth-map)")
    g.add_argument("--depth-backend", choices=DEPTH_BACKENDS, default="auto",
                   help="onnx: ONNX Runtime, on the model's ready ONNX repository when it "
                   "has one (no PyTorch needed), else exported once on first use; export: "
                   "always the local export (PyTorch); torch: PyTorch; auto: as onnx, "
                   "falling back to PyTorch (default: %(default)s)")
    g.add_argument("--depth-variant", choices=DEPTH_VARIANTS, default="auto",
                   help="which network of a ready ONNX repository: fp32, fp16 or int8 "
                   f"(auto: {DEFAULT_DEPTH_VARIANT}, chosen by measurement)")
    g.add_argument("--models-dir", metavar="DIR",
                   help="folder of local models (default: $IMG2MESH_MODELS or "
                   "~/.cache/blender_img2mesh/models)")
    g.add_argument("--offline", action="store_true", help="never download a model")
    g.add_argument("--download", metavar="NAME",
                   help="only get this model into the models folder (a depth, "
                   "background-removal or text-to-image model's name, or a hub id), with "
                   "progress; no INPUT")
    g = p.add_argument_group("geometry")
    g.add_argument("--fov", type=float, default=None, metavar="DEG",
                   help=f"camera field of view across the longer side (default: the model's "
                   f"estimate if it gives one, else {DEFAULT_FOV:g})")
    g.add_argument("--max-size", type=int, default=DEFAULTS["max_size"], metavar="PX",
                   action=_Given,
                   help="longer side of the working image (default: %(default)s; with "
                   f"--views: the photos' own, up to {VIEWS_MAX_SIZE})")
    g.add_argument("--mesher", choices=MESHERS, default="auto",
                   help="grid: triangulate the depth image (visible surface, exact, fast); "
                   "poisson: screened Poisson reconstruction (smooth; needed for a closed "
                   "back); auto: grid for --back open, else poisson (default: %(default)s)")
    g.add_argument("--poisson-depth", type=int, default=DEFAULTS["poisson_depth"], metavar="N",
                   help="Poisson surface detail, octree depth 5-12 (default: %(default)s)")
    g.add_argument("--back", choices=BACKS, default="open",
                   help="open: visible surface only; flat: closed with a flat back; "
                   "mirror: closed with the front mirrored (default: %(default)s)")
    g.add_argument("--target-faces", type=int, default=None, metavar="N",
                   help="decimate to about N triangles")
    g = p.add_argument_group("output")
    g.add_argument("--frame", choices=FRAMES, default="blender",
                   help="blender: Z up, facing -Y, on Z=0, scaled to --size; camera: the "
                   "camera frame of the depth (x right, y down, z forward) (default: blender)")
    g.add_argument("--size", type=float, default=DEFAULTS["size"], metavar="F",
                   help="largest dimension in the blender frame (default: %(default)s)")
    g.add_argument("--color", choices=COLOR_MODES, default="auto",
                   help="texture: the photo as a UV-mapped image at its own resolution; "
                   "vertex: per-vertex colors; both; auto: both for .ply/.obj, texture for "
                   ".glb (glTF multiplies vertex colors into the texture) (default: auto)")
    g.add_argument("--texture-size", type=int, default=None, metavar="PX",
                   help="longest side of the texture image (default: the photo's own, at "
                   "most 4096)")
    g.add_argument("--texture-format", choices=TEXTURE_FORMATS, default="auto",
                   help="auto: JPEG for photos, PNG where the photo had alpha")
    g.add_argument("--texture-quality", type=int, default=DEFAULTS["texture_quality"], metavar="Q",
                   help="JPEG quality of the texture, 50-100 (default: %(default)s; 4:4:4 "
                   "chroma)")
    p.add_argument("--json", action="store_true",
                   help="print progress and the result as JSON lines (docs/protocol.md)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks on errors")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def add_prompt_args(p):
    g = p.add_argument_group("text prompt (instead of INPUT)")
    g.add_argument("--prompt", metavar="TEXT", help="generate the picture from this text, "
                   "then the mesh from the picture (saved as <mesh>_image.png)")
    g.add_argument("--prompt-template", metavar="TEMPLATE", default=None,
                   help="how the prompt is framed for reconstruction; {prompt} is replaced "
                   f"(default: \"{PROMPT_TEMPLATE.replace('%', '%%')}\")")
    g.add_argument("--negative-prompt", metavar="TEXT", default=None,
                   help="what the picture should not show (needs --guidance above 1)")
    g.add_argument("--t2i-model", default=DEFAULT_T2I_MODEL, metavar="NAME_OR_DIR",
                   help="diffusers text-to-image model: " + ", ".join(T2I_MODELS) +
                   ", a hub id or a local pipeline folder (default: %(default)s)")
    g.add_argument("--seed", type=int, default=None, metavar="N",
                   help="random seed: the same seed and settings give the same picture "
                   "(default: a random one, written to the sidecar)")
    g.add_argument("--steps", type=int, default=None, metavar="N",
                   help="denoising steps (default: 2 for turbo models, else 25)")
    g.add_argument("--guidance", type=float, default=None, metavar="F",
                   help="classifier-free guidance scale (default: 0 for turbo models, else 7.5)")
    g.add_argument("--image-size", type=_image_size, default=None, metavar="WxH",
                   help="size of the generated picture, multiples of 8 (default: the model's, "
                   "512 for sd-turbo)")


def add_views_args(p):
    g = p.add_argument_group("one object from several photos (instead of INPUT)")
    g.add_argument("--views", nargs="+", metavar="PHOTO", default=None,
                   help="photos of one object from all around (files, folders or globs; 8 "
                   "to 40 work best): one closed, textured mesh with the photos' cameras")
    g.add_argument("--cameras", metavar="JSON", default=None,
                   help="with --views: the photos' cameras instead of recovering them: "
                   "{\"cameras\": {FILE_NAME: {\"K\": 3x3 px, \"R\": 3x3, \"t\": [3]}}}, world "
                   "to camera in OpenCV axes (the sidecar's convention)")
    g.add_argument("--sequential", action="store_true",
                   help="with --views: the photos are frames of a video, in order (match "
                   "each with the next few instead of every pair)")
    g.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="a batch's photos, or --views' masks and depth maps, on a Ray "
                   "cluster: auto (the one RAY_ADDRESS or 'ray start' names), HOST:PORT or "
                   "ray://HOST:PORT; alone: a Ray on this machine (needs Ray: pip install "
                   "\".[ray]\" in the checkout)")
    g.add_argument("--ray-actors", type=int, metavar="N",
                   help="Ray actors (each keeps the models loaded; default: one per CPU of "
                   "the cluster, one per GPU with --device cuda)")


def check_ray_args(p, args):
    """--ray's address and --ray-actors' count (a batch's and --views')."""
    if args.ray_actors is not None and args.ray_actors < 1:
        p.error("--ray-actors must be at least 1")
    if args.ray is not None and args.ray not in ("local", "auto") and ":" not in args.ray:
        p.error(f"--ray takes an address (auto, HOST:PORT, ray://HOST:PORT) or nothing, not "
                f"'{args.ray}': put --ray after the photos or write --ray=ADDRESS")


def _check_views_args(p, args):
    if args.input is not None or args.prompt is not None or args.download is not None:
        p.error("--views takes the photos itself: drop INPUT / --prompt / --download")
    if args.mask or args.depth_map:
        p.error("--mask and --depth-map are for one photo; with --views each photo's mask "
                "is made (or taken from its alpha channel)")
    if args.output is None:
        args.output = "object.ply"
    check_ray_args(p, args)


def _image_size(text):
    parts = text.lower().split("x")
    try:
        w, h = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, 0)
    except ValueError:
        w = h = 0
    if not (64 <= w <= 2048 and 64 <= h <= 2048 and w % 8 == 0 and h % 8 == 0):
        raise argparse.ArgumentTypeError(f"'{text}' is not a size like 512 or 768x512 "
                                         "(64 to 2048, multiples of 8)")
    return w, h


def _check_prompt_args(p, args):
    if args.download is not None:
        if args.input is not None or args.prompt is not None:
            p.error("--download gets a model and nothing else: drop INPUT / --prompt")
        if not args.download.strip():
            p.error("--download needs a model name")
        return
    if args.prompt is not None and args.input is not None:
        p.error("give either a photo (INPUT) or --prompt TEXT, not both")
    if args.prompt is None:
        if args.input is None:
            p.error("give a photo (INPUT) or --prompt TEXT")
        return
    if not args.prompt.strip():
        p.error("--prompt is empty: describe the object, e.g. --prompt \"a ceramic mug\"")
    if args.prompt_template is not None and "{prompt}" not in args.prompt_template:
        p.error("--prompt-template must contain {prompt}")
    if args.mask or args.depth_map:
        p.error("--mask and --depth-map need a photo: they cannot be used with --prompt")
    if args.output is None:
        from ..source.text2image import slug  # (inspect, random ...: not for --help)

        args.output = slug(args.prompt) + ".ply"


def check_args(p, args):
    """Everything about the arguments that needs no heavy import (UsageError if wrong)."""
    if getattr(args, "views", None) is not None:
        _check_views_args(p, args)
    elif getattr(args, "ray", None) is not None and (args.prompt is not None or
                                                     args.download is not None):
        p.error("--ray is for a batch of photos or --views, not for "
                f"{'--prompt' if args.prompt is not None else '--download'}")
    elif getattr(args, "cameras", None) or getattr(args, "sequential", False):
        p.error("--cameras and --sequential go with --views")
    else:
        _check_prompt_args(p, args)
    checks.check_all(args)
    if args.mask and args.keep_background:
        p.error("--mask and --keep-background exclude each other")
    if args.output is None and args.input is not None:
        args.output = os.path.splitext(os.path.basename(args.input))[0] + ".ply"
    return args


def parse_args(argv=None):
    p = build_parser()
    return check_args(p, p.parse_args(argv))
