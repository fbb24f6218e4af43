"""The worker's dependencies packaged with the add-on (``build.py --vendor``): where they are.

A vendored zip carries wheels in ``wheels/`` and lists them in ``blender_manifest.toml``.
* Installed as a **Blender 4.2+ extension**, Blender itself installs those wheels into its
  extensions site-packages (``<user>/extensions/.local/lib/pythonX.Y/site-packages``).
* Installed as a **legacy add-on**, nobody does: the wheels are unpacked (wheels are zip
  files; plain extraction is enough for these binary wheels) into the add-on's private
  ``vendor/site-packages`` on first use, or with the preferences' *Unpack* button.
Either folder goes on the worker's ``PYTHONPATH`` only; Blender's ``sys.path`` is untouched.
No bpy here: the add-on tells :data:`EXTENSIONS_LOCAL` (where Blender keeps extensions'
wheels) when it registers.
"""

import glob
import os
import re
import shutil
import sys
import zipfile

#: the add-on's top folder (``.../blender_img2mesh``: this file is in blender/client/)
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: the add-on runs as a 4.2+ extension (module ``bl_ext.<repo>.blender_img2mesh``)
IS_EXTENSION = __name__.startswith("bl_ext.")
STAMP = ".img2mesh-wheels"  # in an unpacked folder: the wheels it was made from


def wheels_dir():
    return os.path.join(PACKAGE_DIR, "wheels")


def private_site_dir():
    return os.path.join(PACKAGE_DIR, "vendor", "site-packages")


def packaged_wheels():
    return sorted(glob.glob(os.path.join(wheels_dir(), "*.whl")))


def wheel_pythons(wheels):
    """Python versions (``"3.11"``) the binary wheels are built for (``cp311`` tags)."""
    found = set()
    for path in wheels:
        for tag in os.path.basename(path)[:-4].split("-")[-3].split("."):
            m = re.fullmatch(r"cp3(\d+)", tag)
            if m:
                found.add(f"3.{m.group(1)}")
    return found


#: Blender's folder for the extensions' wheels (``bpy.utils.user_resource("EXTENSIONS",
#: path=".local")``), set by the add-on's register(); None outside Blender
EXTENSIONS_LOCAL = None


def extension_site_dir():
    """Blender's site-packages for extension wheels, or None (not an extension, or not
    told where: :data:`EXTENSIONS_LOCAL`)."""
    local = EXTENSIONS_LOCAL
    if not IS_EXTENSION or not local:
        return None
    ver = "python%d.%d" % sys.version_info[:2]
    for path in (os.path.join(local, "lib", ver, "site-packages"),
                 os.path.join(local, "Lib", "site-packages")):  # Windows layout
        if os.path.isdir(path):
            return path
    return None


def _unpacked_for(folder):
    try:
        with open(os.path.join(folder, STAMP), encoding="utf-8") as fh:
            return fh.read().split()
    except OSError:
        return None


def needs_unpack():
    """Legacy install with wheels that are not (or not all) unpacked yet."""
    wheels = packaged_wheels()
    if IS_EXTENSION or not wheels:
        return False
    return _unpacked_for(private_site_dir()) != [os.path.basename(w) for w in wheels]


def unpack(wheels=None, target=None, progress=None):
    """Extract ``wheels`` into ``target`` (a new folder, renamed into place when complete).

    A wheel's ``*.data/purelib`` and ``*.data/platlib`` go to the top like its other files;
    its scripts, headers and data are not needed by the worker.  Returns ``target``.
    """
    wheels = packaged_wheels() if wheels is None else list(wheels)
    target = target or private_site_dir()
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        for i, wheel in enumerate(wheels):
            if progress:
                progress(i / max(len(wheels), 1), os.path.basename(wheel))
            _extract(wheel, partial)
        with open(os.path.join(partial, STAMP), "w", encoding="utf-8") as fh:
            fh.write("\n".join(os.path.basename(w) for w in wheels) + "\n")
        old = target + ".old"
        if os.path.isdir(target):
            os.replace(target, old)
        os.replace(partial, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _extract(wheel, dest):
    root = os.path.realpath(dest)
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            parts = name.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                name = "/".join(parts[2:])
            if not name or name.endswith("/"):
                continue
            out = os.path.realpath(os.path.join(dest, *name.split("/")))
            if not out.startswith(root + os.sep):
                raise ValueError(f"{os.path.basename(wheel)}: unsafe path {info.filename}")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            mode = (info.external_attr >> 16) & 0o777
            if mode & 0o111:
                os.chmod(out, mode | 0o644)


def site_dirs(unpack_missing=True):
    """Folders of vendored packages for the worker's PYTHONPATH (may unpack first)."""
    dirs = []
    ext = extension_site_dir() if packaged_wheels() else None
    if ext:
        dirs.append(ext)
    if unpack_missing and needs_unpack():
        print(f"Img2Mesh: unpacking {len(packaged_wheels())} bundled wheels into "
              f"{private_site_dir()} (first use only)")
        unpack()
    return dirs


#: folders of a package with its dependencies copied in (a hand-made install)
VENDOR_DIRS = ("vendor/site-packages", "site-packages", "vendor")


def vendor_dir():
    """The first of :data:`VENDOR_DIRS` in the package, or None."""
    for rel in VENDOR_DIRS:
        path = os.path.join(PACKAGE_DIR, *rel.split("/"))
        if os.path.isdir(path):
            return path
    return None


def status(origin="blender"):
    """One line about the packaged dependencies, for the preferences; ``origin``: where
    the worker's interpreter comes from (``interpreter.in_use``), ``"blender"`` when it
    is Blender's own Python (the only one that needs bundled packages)."""
    wheels = packaged_wheels()
    if not wheels:
        folder = vendor_dir()
        if folder:
            return f"Bundled packages in {folder}"
        if origin != "blender":
            return "No bundled packages: the worker uses the packages of its own Python"
        return ("No bundled packages: Blender's own Python needs torch, open3d, "
                "transformers and rembg (Check Dependencies), or set a Python interpreter")
    pythons = wheel_pythons(wheels)
    here = "%d.%d" % sys.version_info[:2]
    if pythons and here not in pythons:
        return (f"Bundled wheels are for Python {', '.join(sorted(pythons))}, this Blender has "
                f"Python {here}: install the package built for it (build.py --python {here})")
    if IS_EXTENSION:
        where = extension_site_dir()
        return (f"{len(wheels)} bundled wheels, installed by Blender in {where}" if where else
                f"{len(wheels)} bundled wheels, not installed by Blender: reinstall the add-on")
    if needs_unpack():
        return f"{len(wheels)} bundled wheels, not unpacked yet (done on first use, or Unpack)"
    return f"{len(wheels)} bundled wheels, unpacked in {private_site_dir()}"
