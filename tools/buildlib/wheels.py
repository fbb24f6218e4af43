"""The worker's runtime dependencies for one platform, as wheels (``pip download``).

The list is ``requirements-addon.txt``: every package a worker job imports, pinned, its
dependencies listed too (Blender installs the manifest's wheels without resolving any), so
wheels are downloaded with ``--no-deps`` and :func:`check_closed` then proves the set whole:
each wheel's own requirements (markers evaluated for the target) are in it, or are numpy
(Blender's, checked against the oldest numpy the ``bpy`` wheel admits), or are in
:data:`NOT_NEEDED` with the reason.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from . import BuildError, platforms

HERE = os.path.dirname(os.path.abspath(__file__))

#: requirements of vendored wheels that the worker never imports, and why
NOT_NEEDED = {name: "open3d's notebook viewer (the worker imports open3d without it: "
              "pipeline/geometry/open3d_import.py)"
              for name in ("dash", "flask", "werkzeug", "nbformat", "configargparse",
                           "ipywidgets", "pywinpty")}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(path, platform):
    """Requirement lines for ``platform`` (markers kept: pip evaluates them for it)."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            name = normalize(_NAME.match(line).group(1))
            if name in platforms.BLENDER_SHIPS:
                continue
            out.append(platform.overrides.get(name, line))
    return out


def wheel_tags(filename):
    """(name, version, python tag, abi tag, platform tag) of a wheel file name."""
    parts = os.path.basename(filename)[:-4].split("-")
    if len(parts) not in (5, 6):
        raise BuildError(f"not a wheel file name: {filename}")
    return parts[0], parts[1], parts[-3], parts[-2], parts[-1]


def fetch(platform, python, requirements, wheel_cache, wheels_from=(), index_url=None,
          verbose=False):
    """Download (or take from ``wheels_from``/``wheel_cache``) every wheel the target needs.

    Returns the wheel paths in ``wheel_cache`` (Blender-shipped packages left out).
    ``wheels_from`` folders make the build offline: no index is asked at all.
    """
    os.makedirs(wheel_cache, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="img2mesh-wheels-") as tmp:
        req_file = os.path.join(tmp, "requirements.txt")
        with open(req_file, "w", encoding="utf-8") as fh:
            fh.write("\n".join(requirements) + "\n")
        dest = os.path.join(tmp, "dl")
        cmd = [sys.executable, os.path.join(HERE, "pip_target.py"),
               json.dumps(platforms.marker_env(platform, python)), "download",
               "--dest", dest, "--only-binary=:all:", "--implementation", "cp",
               "--python-version", python, "--abi", "cp" + python.replace(".", ""),
               "--progress-bar", "off", "--disable-pip-version-check",
               "--no-deps", "-r", req_file]
        for tag in platform.tags:
            cmd += ["--platform", tag]
        if wheels_from:
            cmd.append("--no-index")
            for folder in wheels_from:
                if not os.path.isdir(folder):
                    raise BuildError(f"--wheels-from folder not found: {folder}")
                cmd += ["--find-links", os.path.abspath(folder)]
        else:
            cmd += ["--find-links", os.path.abspath(wheel_cache)]
            if index_url:
                cmd += ["--index-url", index_url]
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if verbose or proc.returncode != 0 and os.environ.get("IMG2MESH_BUILD_DEBUG"):
            sys.stderr.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise BuildError(_explain(proc.stdout + proc.stderr, platform, python,
                                      wheels_from, index_url))
        kept = []
        for name in sorted(os.listdir(dest)):
            if not name.endswith(".whl"):
                raise BuildError(f"pip gave a file that is not a wheel: {name}")
            target = os.path.join(wheel_cache, name)  # numpy too: offline builds need it
            if not os.path.isfile(target):
                shutil.move(os.path.join(dest, name), target + ".partial")
                os.replace(target + ".partial", target)
            if normalize(wheel_tags(name)[0]) not in platforms.BLENDER_SHIPS:
                kept.append(target)
    return kept


def _explain(output, platform, python, wheels_from, index_url):
    """One line out of pip's output: what failed and what to do."""
    where = ("in " + ", ".join(wheels_from)) if wheels_from else "on the package index"
    if re.search(r"NewConnectionError|Connection refused|Failed to establish|Name or service "
                 r"not known|Temporary failure in name resolution|Network is unreachable|"
                 r"timed out|ProxyError|SSLError", output):
        return (f"cannot reach the package index ({index_url or 'pip default'}) to download "
                f"the wheels for {platform.name}: check the network, or build offline with "
                "--wheels-from DIR")
    missing = re.findall(r"No matching distribution found for ([^\n]+)", output)
    conflict = re.search(r"The conflict is caused by:\n((?:[ \t]+.+\n)+)", output)
    causes = [l.strip() for l in conflict.group(1).splitlines()] if conflict else []
    if causes and all(c.startswith("The user requested") for c in causes):
        # pip's words when only the user's own requirement and constraint are left: the
        # requested version has no wheel for this platform
        missing = [re.sub(r"^The user requested (\(constraint\) )?", "", causes[0])]
    if missing:
        return (f"no wheel of {missing[-1].strip()} for {platform.name} / Python {python} "
                f"{where}: add it there (pip download --only-binary=:all: --platform "
                f"{platform.tags[0]} --python-version {python} ...) or pick another version")
    if causes:
        return (f"the dependencies for {platform.name} / Python {python} conflict: "
                + "; ".join(causes))
    errors = [l for l in output.splitlines() if l.startswith("ERROR:")] or \
        [l for l in output.splitlines() if l.strip()][-1:] or ["pip failed with no output"]
    return f"pip could not get the wheels for {platform.name}: {errors[-1]}"


def _requires(wheel):
    with zipfile.ZipFile(wheel) as zf:
        meta = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        text = zf.read(meta[0]).decode("utf-8", "replace") if meta else ""
    return re.findall(r"(?m)^Requires-Dist:\s*(.+?)\s*$", text)


def check_closed(wheel_paths, platform, python, numpy_series):
    """Raise unless every requirement of every wheel (markers evaluated for the target, no
    extras) is met inside the set, by Blender's numpy (``numpy_series``, e.g. ``"2.2"``: some
    release of that series must satisfy it), or is :data:`NOT_NEEDED`."""
    try:
        from packaging.requirements import Requirement
        from packaging.version import Version
    except ImportError:  # pip always carries it
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.version import Version
    env = dict(platforms.marker_env(platform, python), extra="")
    have = {normalize(wheel_tags(w)[0]): Version(wheel_tags(w)[1]) for w in wheel_paths}
    problems = []
    for wheel in wheel_paths:
        who = "%s %s" % wheel_tags(wheel)[:2]
        for text in _requires(wheel):
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            name = normalize(req.name)
            if name in platforms.BLENDER_SHIPS:
                if not any(req.specifier.contains(f"{numpy_series}.{i}", prereleases=False)
                           for i in range(100)):
                    problems.append(f"{who} needs numpy{req.specifier}, Blender's is "
                                    f"{numpy_series}")
            elif name in have:
                if not req.specifier.contains(have[name], prereleases=True):
                    problems.append(f"{who} needs {name}{req.specifier}, the list has "
                                    f"{have[name]}")
            elif name not in NOT_NEEDED:
                problems.append(f"{who} needs {name}{req.specifier or ''}, not in the list")
    if problems:
        raise BuildError(f"requirements-addon.txt is not complete for {platform.name} / "
                         f"Python {python}: " + "; ".join(problems)
                         + " -- add or re-pin them there")
