"""Writing the add-on zip, and validating it with Blender's own validator.

Layout: one top folder ``blender_img2mesh/`` holding ``__init__.py`` (with ``bl_info``)
and ``blender_manifest.toml``.  Blender 4.2+ installs it as an extension (it accepts the
manifest at the root or in one folder); older Blenders install it as a legacy add-on
(``Install...`` wants the package folder at the zip's top).
"""

import fnmatch
import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile

from . import BuildError


def _excluded(rel, is_dir, patterns):
    """Blender's ``paths_exclude_pattern`` forms used here: ``name/`` (a folder anywhere),
    ``/name/`` (a top-level folder), ``*.ext`` / ``name`` (files anywhere)."""
    name = rel.rsplit("/", 1)[-1]
    for pat in patterns:
        if pat.endswith("/"):
            if not is_dir:
                continue
            if pat.startswith("/"):
                if rel == pat.strip("/"):
                    return True
            elif fnmatch.fnmatch(name, pat.rstrip("/")):
                return True
        elif fnmatch.fnmatch(name, pat.lstrip("/")):
            return True
    return False


def source_files(src, patterns):
    """(path, relative path) of the package's files, minus the excluded ones."""
    out = []
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src).replace(os.sep, "/")
        rel_root = "" if rel_root == "." else rel_root + "/"
        dirs[:] = sorted(d for d in dirs if not _excluded(rel_root + d, True, patterns))
        for f in sorted(files):
            rel = rel_root + f
            if not _excluded(rel, False, patterns) and not f.endswith(".partial"):
                out.append((os.path.join(root, f), rel))
    return out


def write_zip(out_path, top, files, manifest_text, wheels=(), extra=()):
    """Write the zip under a temporary name, rename when complete (never a partial zip).

    ``files``: (path, relative path); ``extra``: more (path, relative path), e.g. models.
    Wheels are stored as they are (already compressed), the rest deflated.
    """
    partial = out_path + ".partial"
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for path, rel in files:
                if rel != "blender_manifest.toml":
                    zf.write(path, f"{top}/{rel}")
            zf.writestr(f"{top}/blender_manifest.toml", manifest_text)
            for path, rel in extra:
                zf.write(path, f"{top}/{rel}")
            for path in wheels:
                zf.write(path, f"{top}/wheels/{os.path.basename(path)}",
                         compress_type=zipfile.ZIP_STORED)
        os.replace(partial, out_path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return out_path


def unpacked_size(wheels):
    """Bytes the wheels' files take once installed (sum of their uncompressed sizes)."""
    total = 0
    for path in wheels:
        with zipfile.ZipFile(path) as zf:
            total += sum(info.file_size for info in zf.infolist())
    return total


def find_validator(repo, series=None):
    """Blender 4.2+ on PATH (``blender --command extension validate``), else the
    ``blender_ext.py`` inside an installed ``bpy`` wheel (this Python's, .venv-blender's,
    the Debian 13 root's of scripts/setup_py313.sh) -- the one of Blender ``series``
    (``"5.2"``) when there; None when none is there."""
    if os.environ.get("BLENDER_EXT_PY"):
        return [sys.executable, os.environ["BLENDER_EXT_PY"], "validate"]
    exe = shutil.which(os.environ.get("BLENDER", "blender"))
    if exe:
        try:
            out = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                 timeout=60, stdin=subprocess.DEVNULL).stdout
            ver = tuple(int(x) for x in out.split()[1].split(".")[:2])
            if ver >= (4, 2):
                return [exe, "--factory-startup", "--command", "extension", "validate"]
        except (OSError, subprocess.SubprocessError, IndexError, ValueError):
            pass
    roots = []
    spec = importlib.util.find_spec("bpy") if sys.version_info >= (3, 11) else None
    if spec and spec.submodule_search_locations:
        roots += list(spec.submodule_search_locations)
    for venv in (".venv-blender", os.path.join(".venv-py313-root", "opt", "bpy")):
        roots += glob.glob(os.path.join(repo, venv, "lib", "python3*", "site-packages", "bpy"))
    scripts = []
    for root in roots:
        scripts += sorted(glob.glob(os.path.join(root, "*", "scripts", "addons_core", "bl_pkg",
                                                 "cli", "blender_ext.py")))
    if not scripts:
        return None
    matching = [p for p in scripts if series and os.sep + series + os.sep in p]
    # the script needs Python 3.11+ (tomllib); it runs on this one or on .venv-blender's
    python = sys.executable if sys.version_info >= (3, 11) else os.path.join(
        repo, ".venv-blender", "bin", "python")
    return [python, (matching or scripts)[0], "validate"]


def validate(zip_path, repo, series=None):
    """Run Blender's validator (Blender ``series``'s when found) on the zip; returns the
    validator used, or None when there is none.  Raises on failure."""
    cmd = find_validator(repo, series)
    if cmd is None:
        return None
    proc = subprocess.run(cmd + [zip_path], capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "Success" not in out:
        lines = [l.strip() for l in out.splitlines() if l.strip()]
        raise BuildError(f"Blender's validator rejects {os.path.basename(zip_path)}: "
                         + " / ".join(lines[-3:] or ["no output"]))
    return " ".join(os.path.basename(c) for c in cmd[:2]) + (
        f" of Blender {cmd[1].split(os.sep + 'scripts' + os.sep)[0].rsplit(os.sep, 1)[-1]}"
        if cmd[1].endswith("blender_ext.py") else "")
