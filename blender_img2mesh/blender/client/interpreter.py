"""Which Python runs the worker, and with what environment (no bpy here).

Order: ``$IMG2MESH_PYTHON``, the add-on preference, else Blender's own Python -- checked,
because ``sys.executable`` is not always Blender's interpreter (Debian's blender 3.4
reports whatever ``python3.11`` comes first on PATH).
"""

import json
import os
import subprocess
import sys

from . import torch_install, vendor

#: the top-level package folder (``.../blender_img2mesh``) and its parent
PACKAGE_DIR = vendor.PACKAGE_DIR
PACKAGE_PARENT = os.path.dirname(PACKAGE_DIR)
#: what a worker job imports (requirements-addon.txt) -- Check Dependencies imports them
NEEDED_MODULES = ("onnxruntime", "open3d", "scipy", "PIL", "huggingface_hub")
#: the optional part (the text prompt, depth models with no ONNX file, Views): PyTorch & co.
OPTIONAL_MODULES = ("torch", "transformers", "diffusers", "pycolmap", "xatlas")
HEAVY_MODULES = NEEDED_MODULES + OPTIONAL_MODULES

_PROBE = "import json, sys; print(json.dumps([list(sys.version_info[:3]), sys.prefix]))"
_checked = {}


class InterpreterError(RuntimeError):
    """No usable Python for the worker: the message says what to set."""


def _probe(exe):
    """(version tuple, prefix) of the Python ``exe``, or None when it does not run."""
    if exe in _checked:
        return _checked[exe]
    info = None
    try:
        out = subprocess.run([exe, "-I", "-c", _PROBE], capture_output=True, text=True,
                             timeout=30, stdin=subprocess.DEVNULL, env=_clean_env())
        if out.returncode == 0:
            ver, prefix = json.loads(out.stdout.strip().splitlines()[-1])
            info = (tuple(ver), prefix)
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        info = None
    _checked[exe] = info
    return info


def _same_path(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def blender_python():
    """The interpreter of the running Blender (same version and prefix), or raise."""
    ver = "%d.%d" % sys.version_info[:2]
    names = [sys.executable]
    for folder in (os.path.join(sys.prefix, "bin"), sys.prefix):
        for name in (f"python{ver}", "python3", "python", "python.exe", "python3.exe"):
            names.append(os.path.join(folder, name))
    seen = set()
    for exe in names:
        if not exe or exe in seen or not os.path.isfile(exe):
            continue
        seen.add(exe)
        if os.path.basename(exe).lower().startswith("blender"):
            continue  # Blender < 2.91 pointed sys.executable at itself
        info = _probe(exe)
        if info and info[0][:2] == tuple(sys.version_info[:2]) and _same_path(info[1], sys.prefix):
            return exe
    raise InterpreterError(
        f"cannot find Blender's own Python {ver} (sys.executable is {sys.executable!r}): "
        "set the Python interpreter in the Img2Mesh add-on preferences or $IMG2MESH_PYTHON")


def resolve(preference=""):
    """The worker's interpreter: ``$IMG2MESH_PYTHON``, ``preference``, Blender's Python."""
    for source, exe in (("IMG2MESH_PYTHON", os.environ.get("IMG2MESH_PYTHON", "")),
                        ("the add-on preference", preference or "")):
        exe = exe.strip()
        if exe:
            exe = os.path.abspath(os.path.expanduser(exe))
            if not os.path.isfile(exe):
                raise InterpreterError(f"Python interpreter from {source} does not exist: {exe}")
            return exe
    return blender_python()


#: where the worker's interpreter comes from (:func:`in_use`)
FROM_ENV, FROM_PREFERENCE, FROM_BLENDER = "env", "preference", "blender"


def in_use(preference=""):
    """What :func:`resolve` picks, for the preferences to say: ``(exe or None, origin,
    error or None)``; ``origin`` is :data:`FROM_ENV`, :data:`FROM_PREFERENCE` or
    :data:`FROM_BLENDER` (whichever was asked, even when it failed)."""
    if os.environ.get("IMG2MESH_PYTHON", "").strip():
        origin = FROM_ENV
    elif (preference or "").strip():
        origin = FROM_PREFERENCE
    else:
        origin = FROM_BLENDER
    try:
        return resolve(preference), origin, None
    except InterpreterError as exc:
        return None, origin, str(exc)


def _clean_env():
    env = dict(os.environ)
    for key in ("PYTHONHOME", "PYTHONEXECUTABLE", "PYTHONSTARTUP"):
        env.pop(key, None)
    return env


def child_env():
    """The worker's environment: this add-on's folder (and vendored packages) first on
    PYTHONPATH -- for the child only; Blender's own ``sys.path`` is never touched."""
    env = _clean_env()
    paths = [PACKAGE_PARENT]
    paths += vendor.site_dirs()  # Blender's extension site-packages; unpacks a legacy zip's
    folder = vendor.vendor_dir()
    if folder:
        paths.append(folder)
    if torch_install.installed():  # the optional PyTorch, installed from the preferences
        paths.append(torch_install.target_dir())
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


_CHECK = """
import importlib, json, sys
found = {}
for name in %r:
    try:
        if name == "open3d":  # as the worker imports it (without its plotly viewer)
            from blender_img2mesh.pipeline.geometry import open3d_import
            mod = open3d_import.load()
        else:
            mod = importlib.import_module(name)
        found[name] = getattr(mod, "__version__", "ok")
    except Exception as exc:
        found[name] = None
        found[name + ":error"] = "%%s: %%s" %% (type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
try:
    import numpy
    numpy_version = numpy.__version__
except Exception:
    numpy_version = None
print(json.dumps({"python": sys.version.split()[0], "exe": sys.executable, "modules": found,
                  "numpy": numpy_version}))
""" % (HEAVY_MODULES,)


def check_dependencies(exe, timeout=180):
    """Import the heavy libraries in a child ``exe``; returns (ok, one-line status)."""
    try:
        out = subprocess.run([exe, "-c", _CHECK], capture_output=True, text=True,
                             timeout=timeout, env=child_env(), stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot run {exe}: {exc}"
    try:
        info = json.loads(out.stdout.strip().splitlines()[-1])
        mods = info["modules"]
    except (ValueError, IndexError, KeyError, TypeError):  # not a Python, or it failed
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"{exe} failed: {tail}"
    missing = [m for m in NEEDED_MODULES if not mods.get(m)]
    if missing:
        return False, (f"Python {info['python']} is missing {', '.join(missing)} "
                       f"({mods.get(missing[0] + ':error', '')}): install the zip built with "
                       "build.py --vendor for your platform, or set a Python interpreter")
    optional = [m for m in OPTIONAL_MODULES if mods.get(m)]
    return True, (f"Python {info['python']}, numpy {info.get('numpy')}: "
                  + ", ".join(f"{m} {mods[m]}" for m in NEEDED_MODULES + tuple(optional))
                  + ("" if "torch" in optional else
                     "; no PyTorch (the text prompt needs it: Install PyTorch)"))
