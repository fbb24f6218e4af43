"""The command line: ``img2mesh INPUT -o OUT.ply [options]`` or ``img2mesh --prompt TEXT
-o OUT.ply [options]`` (= ``python -m blender_img2mesh``).

Exit codes: 0 done, 2 a problem with the arguments, the input, a model or the output (one
line ``error: ...`` on stderr, or an ``error`` event with ``--json``), 1 an unexpected
internal error, 128 + the signal's number when ended by SIGINT (130), SIGTERM (143) or
SIGHUP (129), after cleaning up.
"""

import argparse
import contextlib
import os
import sys
import traceback

try:  # Ctrl-C while numpy/scipy load (the first half second): no traceback
    from .. import __version__
    from . import checks, signals
    from .camera import DEFAULT_FOV
    from .errors import Img2MeshError
    from .export import COLOR_MODES, FRAMES
    from .models import DEFAULT_DEPTH_MODEL, DEPTH_MODELS
    from .progress import Reporter, json_sink, terminal_sink
    from .surface import BACKS, MESHERS
    from .text2image import DEFAULT_T2I_MODEL, PROMPT_TEMPLATE, T2I_MODELS, slug
except KeyboardInterrupt:
    raise SystemExit(130) from None


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`checks.UsageError` (one line, exit 2) instead of
    printing the usage block and exiting; ``--help`` and ``--version`` still exit."""

    def error(self, message):
        raise checks.UsageError(message)


def build_parser():
    p = Parser(
        prog="img2mesh", description="Turn a photo or a text prompt into a colored 3D mesh "
        "(.ply/.obj/.glb).",
        epilog="Depth models: auto, inflate, " + ", ".join(DEPTH_MODELS) +
        ", any hub id (org/name) or a local model folder.  See README.md.")
    p.add_argument("input", nargs="?", help="the photo (JPEG, PNG, WebP, TIFF, BMP); or give "
                   "--prompt instead")
    p.add_argument("-o", "--output", help="mesh file to write: .ply, .obj or .glb "
                   "(default: INPUT's name, or the prompt's words, with .ply, in the current "
                   "folder)")
    p.add_argument("--preview", metavar="PNG", help="also draw the mesh to this PNG file")
    add_prompt_args(p)
    g = p.add_argument_group("background removal")
    g.add_argument("--segmenter", default="u2netp", metavar="NAME",
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
    g.add_argument("--depth-kind", choices=("auto", "metric", "relative"), default="auto",
                   help="what the depth holds: metric depth or relative inverse depth "
                   "(auto: known per model; metric for --depth-map)")
    g.add_argument("--depth-scale", type=float, default=None, metavar="F",
                   help="multiply a --depth-map by this (default 1; 0.001 for 16-bit "
                   "integer images, i.e. millimetres)")
    g.add_argument("--thickness", type=float, default=None, metavar="F",
                   help="depth of the visible part relative to its width, for relative "
                   "depth and inflation (default 0.5; metric depth is kept unless given)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    g.add_argument("--depth-backend", choices=("auto", "onnx", "torch"), default="auto",
                   help="run the depth model on ONNX Runtime (exported once, on first use) "
                   "or PyTorch; auto: ONNX Runtime when the model can be exported "
                   "(default: %(default)s)")
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
    g.add_argument("--max-size", type=int, default=512, metavar="PX",
                   help="longer side of the working image (default: %(default)s)")
    g.add_argument("--mesher", choices=MESHERS, default="auto",
                   help="grid: triangulate the depth image (visible surface, exact, fast); "
                   "poisson: screened Poisson reconstruction (smooth; needed for a closed "
                   "back); auto: grid for --back open, else poisson (default: %(default)s)")
    g.add_argument("--poisson-depth", type=int, default=8, metavar="N",
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
    g.add_argument("--size", type=float, default=2.0, metavar="F",
                   help="largest dimension in the blender frame (default: %(default)s)")
    g.add_argument("--color", choices=COLOR_MODES, default="auto",
                   help="texture: the photo as a UV-mapped image at its own resolution; "
                   "vertex: per-vertex colors; both; auto: both for .ply/.obj, texture for "
                   ".glb (glTF multiplies vertex colors into the texture) (default: auto)")
    g.add_argument("--texture-size", type=int, default=None, metavar="PX",
                   help="longest side of the texture image (default: the photo's own, at "
                   "most 4096)")
    g.add_argument("--texture-format", choices=("auto", "jpeg", "png"), default="auto",
                   help="auto: JPEG for photos, PNG where the photo had alpha")
    g.add_argument("--texture-quality", type=int, default=97, metavar="Q",
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
        args.output = slug(args.prompt) + ".ply"


def check_args(p, args):
    """Everything about the arguments that needs no heavy import (UsageError if wrong)."""
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


def run_cli(args, out, cache=None):
    """Run one job, printing events to ``out`` (JSON) or stderr; returns the exit code."""
    from .fetch import fetch
    from .run import run

    sink = json_sink(out) if args.json else terminal_sink(quiet=args.quiet)
    reporter = Reporter(sink)
    if args.json:
        reporter.start()
    try:
        unused = checks.unused_device(args)
        if unused:
            reporter.warn(unused)
        result = fetch(args, reporter) if args.download else run(args, reporter, cache=cache)
    except Img2MeshError as err:
        reporter.error(err)
        if not args.json:
            print(f"error: {err.one_line()}", file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return err.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP (signals.Interrupted)
        reporter.error(Img2MeshError(f"{exc or 'interrupted'}", kind="cancelled"))
        return signals.exit_code(exc)
    except Exception as exc:  # a bug or a library failure: say so in one line
        err = Img2MeshError(f"internal error: {type(exc).__name__}: {exc}", kind="internal",
                            hint=None if args.verbose else "run with --verbose for details")
        reporter.error(err)
        if not args.json:
            print(f"error: {err.one_line()}", file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return 1
    if args.download and not args.json and not args.quiet:
        print(f"{args.download} is ready: {result['path']}", file=sys.stderr)
    elif not args.json and not args.quiet:
        print(f"wrote {result['mesh']} ({result['vertices']} vertices, {result['faces']} "
              f"faces) in {result['seconds']:.1f} s", file=sys.stderr)
    return 0


@contextlib.contextmanager
def stdout_for_events():
    """Keep the real stdout for JSON events only: whatever else is printed -- by Python
    code or by C++ libraries writing to file descriptor 1 -- goes to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real = sys.stdout
    sys.stdout = sys.stderr
    events = os.fdopen(os.dup(saved), "w", encoding="utf-8", buffering=1)
    try:
        yield events
    finally:
        events.flush()
        events.close()
        sys.stdout = real
        os.dup2(saved, 1)
        os.close(saved)


def wants_json(argv):
    """Whether a command line that may not parse asks for ``--json`` (or an abbreviation
    argparse accepts: ``--j``, ``--js``, ``--jso``)."""
    return any(len(a) > 2 and "--json".startswith(a) for a in argv if isinstance(a, str))


def refuse(err, as_json, out=None):
    """Report an argument error: one ``error:`` line on stderr, or with ``--json`` the
    ``start`` and ``error`` events on ``out`` (stdout).  Returns the exit code."""
    if as_json:
        reporter = Reporter(json_sink(out or sys.stdout))
        reporter.start()
        reporter.error(err)
    else:
        print(f"error: {err.one_line()}", file=sys.stderr)
    return err.exit_code


def main(argv=None):
    from . import batch_plan

    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if batch_plan.is_batch(argv):  # several photos, a folder or a glob: pipeline/batch.py
        from .batch import main as batch_main

        return batch_main(argv)
    with signals.handled():
        try:
            try:
                args = parse_args(argv)
            except Img2MeshError as err:
                return refuse(err, wants_json(argv))
            except Exception as exc:  # a bug in the checks: still one line
                err = Img2MeshError(f"internal error: {type(exc).__name__}: {exc}",
                                    kind="internal")
                refuse(err, wants_json(argv))
                return 1
            with stdout_for_events() as out:
                return run_cli(args, out)
        except KeyboardInterrupt as exc:  # before or after the job: nothing to report
            return signals.exit_code(exc)
