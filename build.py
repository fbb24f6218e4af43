#!/usr/bin/env python3
"""Build the Img2Mesh add-on as zips that install in Blender (4.2+ extension or legacy add-on).

    python build.py                              dist/blender_img2mesh-<version>.zip (add-on alone)
    python build.py --vendor --platform linux-x64 [--python 3.11|3.13]
                                  dist/blender_img2mesh-<version>-linux-x64-py311.zip
                                  (+ the worker's dependencies as wheels; no PyTorch)
    python build.py --vendor --platform linux-x64 --wheels-from DIR     (offline)

Wheels come from ``pip download --no-deps --only-binary=:all: --platform ...
--python-version ...`` of ``requirements-addon.txt`` (what a worker job imports; checked
closed under dependencies, and against the numpy Blender ships, read from the ``bpy``
wheel's metadata; numpy itself is left out).  One zip per Python: 3.11 for Blender 4.2 LTS
to 5.0, 3.13 for 5.1 and later (``blender_version_min``/``_max`` set to match).  Downloads
are kept in ``.cache/wheels/`` and ``.cache/bpy/`` and reused.  rembg's u2netp.onnx (MIT) goes into the zip's models/ folder when it is in the
models folder (``scripts/get_models.py``), so background removal needs no download.
Every zip is checked by Blender's own validator when one is found (a Blender 4.2+ on PATH,
or the ``bpy`` wheel's ``blender_ext.py``).  Errors: one line, exit code 1, no zip left.
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(REPO, "tools"))

from buildlib import BuildError, bpy_meta, manifest, package, platforms, wheels  # noqa: E402

PACKAGE = "blender_img2mesh"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vendor", action="store_true",
                   help="put the worker's dependencies (wheels) into the zip, one per platform")
    p.add_argument("--platform", action="append", default=[], metavar="NAME",
                   help="with --vendor (repeatable): " + ", ".join(platforms.PLATFORMS))
    p.add_argument("--python", default="3.11", help="Blender's Python: 3.11 (Blender 4.2 LTS "
                   "to 5.0, the default) or 3.13 (Blender 5.1 and later)")
    p.add_argument("--wheels-from", action="append", default=[], metavar="DIR",
                   help="offline: take every wheel from DIR (repeatable), ask no index")
    p.add_argument("--index-url", metavar="URL", help="package index (default: pip's)")
    p.add_argument("--wheel-cache", metavar="DIR", help="where downloads are kept (default "
                   ".cache/wheels/<platform>-py<version>)")
    p.add_argument("--download-only", action="store_true",
                   help="with --vendor: fill the wheel cache, build no zip")
    u2 = p.add_mutually_exclusive_group()
    u2.add_argument("--with-u2netp", action="store_true", default=None,
                    help="bundle u2netp.onnx (fetched with scripts/get_models.py if missing)")
    u2.add_argument("--no-u2netp", dest="with_u2netp", action="store_false",
                    help="do not bundle it (default: bundled when in the models folder)")
    p.add_argument("--models-dir", help="where u2netp.onnx is looked for (default: "
                   "$IMG2MESH_MODELS or ~/.cache/blender_img2mesh/models)")
    p.add_argument("--out", default=os.path.join(REPO, "dist"), help="output folder (dist/)")
    p.add_argument("--no-validate", action="store_true", help="skip Blender's validator")
    p.add_argument("-v", "--verbose", action="store_true", help="show pip's output")
    args = p.parse_args(argv)
    for name in args.platform:
        platforms.get(name)  # unknown names fail before anything is done
    if args.platform and not args.vendor:
        raise BuildError("--platform needs --vendor (the add-on alone is the same everywhere)")
    if args.vendor and not args.platform:
        raise BuildError("--vendor needs --platform NAME: " + ", ".join(platforms.PLATFORMS))
    if args.vendor:
        platforms.blender_line(args.python)  # a Python no Blender ships fails here
    return args


def u2netp(args):
    """Path of a checked u2netp.onnx to bundle, or None."""
    if args.with_u2netp is False:
        return None
    sys.path.insert(0, REPO)
    from blender_img2mesh.pipeline.models import default_models_dir

    sys.path.insert(0, os.path.join(REPO, "scripts"))
    import get_models  # fetches and checks u2netp.onnx (its MD5)

    folder = os.path.abspath(args.models_dir or default_models_dir())
    path = os.path.join(folder, "u2netp.onnx")
    if not os.path.isfile(path) and args.with_u2netp:
        get_models.fetch_u2netp(folder)
    if not os.path.isfile(path):
        return None
    if get_models.md5(path) != get_models.MD5:
        raise BuildError(f"{path} is not rembg's u2netp.onnx (checksum differs): run "
                         "python scripts/get_models.py, or build with --no-u2netp")
    return path


def mb(n):
    return f"{n / 1e6:.1f} MB"


def build(args):
    version = manifest.version(REPO, PACKAGE)
    src = os.path.join(REPO, PACKAGE)
    files = package.source_files(src, manifest.exclude_patterns(REPO, PACKAGE))
    with open(os.path.join(src, manifest.MANIFEST), encoding="utf-8") as fh:
        manifest_text = fh.read()
    model = u2netp(args)
    extra = [(model, "models/u2netp.onnx")] if model else []
    targets = args.platform if args.vendor else [None]
    built = []
    for name in targets:
        text, wheel_paths, label = manifest_text, [], f"{PACKAGE}-{version}.zip"
        series = None
        if name:
            plat, line = platforms.get(name), platforms.blender_line(args.python)
            numpy = bpy_meta.numpy_requirement(bpy_meta.fetch_wheel(
                line, os.path.join(REPO, ".cache", "bpy"), args.wheels_from, args.index_url))
            numpy_floor = bpy_meta.oldest_numpy(numpy)
            reqs = wheels.runtime_requirements(os.path.join(REPO, "requirements-addon.txt"),
                                               plat)
            cache = args.wheel_cache or os.path.join(
                REPO, ".cache", "wheels", f"{name}-py{args.python}")
            print(f"== {name}: Python {args.python} ({line.releases}), numpy{numpy} (bpy "
                  f"{line.bpy}'s metadata; wheels checked against {numpy_floor}); needs "
                  f"{plat.requires}")
            wheel_paths = wheels.fetch(plat, args.python, reqs, cache, args.wheels_from,
                                       args.index_url, args.verbose)
            wheels.check_closed(wheel_paths, plat, args.python, numpy_floor)
            if args.download_only:
                print(f"   {len(wheel_paths)} wheels in {cache}")
                continue
            text = manifest.with_wheels(text, [name], [os.path.basename(w) for w in wheel_paths],
                                        line.version_min, line.version_max)
            label = f"{PACKAGE}-{version}-{name}-py{args.python.replace('.', '')}.zip"
            series = line.bpy.rsplit(".", 1)[0]
        out = os.path.join(os.path.abspath(args.out), label)
        package.write_zip(out, PACKAGE, files, text, wheel_paths, extra)
        try:
            checked = None if args.no_validate else package.validate(out, REPO, series)
        except BuildError:
            os.remove(out)
            raise
        built.append((out, wheel_paths, checked))
    for out, wheel_paths, checked in built:
        shown = os.path.relpath(out) if out.startswith(os.getcwd() + os.sep) else out
        print(f"{shown}: {mb(os.path.getsize(out))}"
              + (f", {len(wheel_paths)} wheels" if wheel_paths else "")
              + (", u2netp bundled" if extra else "")
              + (f"; valid ({checked})" if checked else "; not validated (no Blender 4.2+ "
                 "or bpy wheel found)"))
        if wheel_paths:
            print(f"   installed: about {mb(package.unpacked_size(wheel_paths))} of wheels "
                  "(their files unpacked)")
        biggest = sorted(wheel_paths, key=os.path.getsize, reverse=True)[:6]
        if biggest:
            print("   largest: " + ", ".join(
                f"{'-'.join(wheels.wheel_tags(w)[:2])} {mb(os.path.getsize(w))}"
                for w in biggest))
    return built


def main(argv=None):
    try:
        build(parse_args(argv))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
