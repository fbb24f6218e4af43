"""The worker's runtime dependencies for one platform, as wheels (``pip download``).

The list comes from ``requirements.txt`` (so a dependency added there comes along), with:
numpy dropped (Blender ships it; everything is resolved against Blender's version by a
constraint), each ``==`` pin read as "no newer than the version we test" (the newest
release that works with Blender's numpy is taken), torch as chosen per platform
(``platforms.torch_choice``), and the platform's own overrides.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from . import BuildError, platforms

HERE = os.path.dirname(os.path.abspath(__file__))
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(path, platform, torch_req):
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
            if name == "torch":
                marker = line.partition(";")[2]
                line = torch_req + (f"; {marker.strip()}" if marker else "")
            elif name in platform.overrides:
                line = platform.overrides[name]
            else:
                line = re.sub(r"(?<![<>=!~])==(?!=)", "<=", line, count=1)
            out.append(line)
    return out


def wheel_tags(filename):
    """(name, version, python tag, abi tag, platform tag) of a wheel file name."""
    parts = os.path.basename(filename)[:-4].split("-")
    if len(parts) not in (5, 6):
        raise BuildError(f"not a wheel file name: {filename}")
    return parts[0], parts[1], parts[-3], parts[-2], parts[-1]


def fetch(platform, python, requirements, wheel_cache, wheels_from=(), index_url=None,
          extra_index=None, verbose=False):
    """Download (or take from ``wheels_from``/``wheel_cache``) every wheel the target needs.

    Returns the wheel paths in ``wheel_cache`` (Blender-shipped packages left out).
    ``wheels_from`` folders make the build offline: no index is asked at all.
    """
    os.makedirs(wheel_cache, exist_ok=True)
    numpy = platforms.numpy_for(python)
    with tempfile.TemporaryDirectory(prefix="img2mesh-wheels-") as tmp:
        req_file = os.path.join(tmp, "requirements.txt")
        con_file = os.path.join(tmp, "constraints.txt")
        with open(req_file, "w", encoding="utf-8") as fh:
            fh.write("\n".join(requirements) + "\n")
        with open(con_file, "w", encoding="utf-8") as fh:
            fh.write(f"numpy=={numpy}\n")  # Blender's own numpy
        dest = os.path.join(tmp, "dl")
        cmd = [sys.executable, os.path.join(HERE, "pip_target.py"),
               json.dumps(platforms.marker_env(platform, python)), "download",
               "--dest", dest, "--only-binary=:all:", "--implementation", "cp",
               "--python-version", python, "--abi", "cp" + python.replace(".", ""),
               "--progress-bar", "off", "--disable-pip-version-check",
               "-r", req_file, "-c", con_file]
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
            torch = [r for r in requirements if normalize(_NAME.match(r).group(1)) == "torch"]
            if extra_index and not (torch and _have_locally(torch[0], [wheel_cache])):
                cmd += ["--extra-index-url", extra_index]
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


def _find_links():
    """pip's own find-links folders (configuration and $PIP_FIND_LINKS)."""
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], text=True,
                             capture_output=True, timeout=60, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.endswith("find-links"):
            links += value.strip().strip("'\"").split()
    return [l[len("file://"):] if l.startswith("file://") else l for l in links]


def _have_locally(requirement, folders):
    """A wheel for ``name==version`` is on disk (in ``folders`` or pip's find-links): then
    the extra index (PyTorch's, not always reachable) is not asked at all."""
    name, _, version = requirement.split(";")[0].partition("==")
    stem = f"{normalize(name).replace('-', '_')}-{version.strip()}-"
    for folder in list(folders) + _find_links():
        if os.path.isdir(folder) and any(f.lower().startswith(stem) and f.endswith(".whl")
                                         for f in os.listdir(folder)):
            return True
    return False


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
