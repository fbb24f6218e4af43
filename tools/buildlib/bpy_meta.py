"""The numpy a Blender release ships, read from its ``bpy`` wheel's metadata (never guessed).

The ``bpy`` wheels on PyPI state what Blender's bundled Python carries: bpy 5.0.1 says
``Requires-Dist: numpy<2.0,>=1.26``, bpy 5.2.3 ``numpy<3.0,>=2.2``.  PyPI serves no separate
metadata file for them, so the wheel itself (the Linux one, 375-400 MB) is downloaded once
into ``.cache/bpy/`` -- where ``scripts/setup_py313.sh`` also takes it from -- or taken from
a ``--wheels-from`` folder.
"""

import glob
import os
import re
import subprocess
import sys
import zipfile

from . import BuildError

PLATFORM_TAG = "manylinux_2_28_x86_64"


def find_wheel(bpy_version, folders):
    for folder in folders:
        found = sorted(glob.glob(os.path.join(folder, f"bpy-{bpy_version}-*.whl")))
        if found:
            return found[0]
    return None


def fetch_wheel(line, cache, wheels_from=(), index_url=None):
    """Path of the ``bpy`` wheel of ``line`` (platforms.BlenderLine): found or downloaded."""
    found = find_wheel(line.bpy, list(wheels_from) + [cache])
    if found:
        return found
    if wheels_from:
        raise BuildError(f"no bpy-{line.bpy} wheel in {', '.join(wheels_from)}: its metadata "
                         f"states the numpy {line.releases} ship; put it there (pip download "
                         f"--no-deps bpy=={line.bpy}) or build online")
    os.makedirs(cache, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", line.python, "--platform", PLATFORM_TAG, "--dest", cache,
           "--progress-bar", "off", "--disable-pip-version-check", f"bpy=={line.bpy}"]
    if index_url:
        cmd += ["--index-url", index_url]
    print(f"   reading numpy from bpy {line.bpy}'s metadata: downloading the wheel once "
          f"into {cache}")
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    found = find_wheel(line.bpy, [cache])
    if proc.returncode != 0 or not found:
        last = [l for l in (proc.stdout + proc.stderr).splitlines() if l.strip()][-1:]
        raise BuildError(f"could not download bpy=={line.bpy} to read the numpy "
                         f"{line.releases} ship: {' '.join(last) or 'pip failed'}; or build "
                         "offline with --wheels-from DIR holding that wheel")
    return found


def numpy_requirement(wheel):
    """The ``numpy`` specifier in the wheel's METADATA (``"<3.0,>=2.2"``)."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        if not names:
            raise BuildError(f"{os.path.basename(wheel)} has no METADATA: not a wheel")
        text = zf.read(names[0]).decode("utf-8", "replace")
    for value in re.findall(r"(?m)^Requires-Dist:\s*(.+)$", text):
        m = re.fullmatch(r"numpy\s*\(?([^;)]*)\)?\s*", value.strip(), re.I)
        if m:
            return m.group(1).replace(" ", "")
    raise BuildError(f"{os.path.basename(wheel)} states no numpy requirement")


def oldest_numpy(specifier):
    """The oldest numpy release series the specifier admits (``">=2.2,<3.0"`` -> ``"2.2"``):
    every vendored wheel must work with it, whichever numpy in the range Blender bundles."""
    lows = re.findall(r"(?:>=|==|~=)\s*(\d+(?:\.\d+)*)", specifier)
    if not lows:
        raise BuildError(f"bpy's numpy requirement '{specifier}' has no lower bound")
    return max(lows, key=lambda v: tuple(int(x) for x in v.split(".")))
