"""The platforms a vendored package is built for, and the explicit choices made for each.

Blender's platform names (``linux-x64``, ...) as in ``blender_manifest.toml``; for each:
the wheel tags pip may take (best first), the environment markers of the target (so that
``; sys_platform == ...`` lines resolve as they would there).  And the Blender releases
per Python (``BLENDERS``).
"""

from dataclasses import dataclass, field

from . import BuildError

#: packages Blender ships that must not be vendored
BLENDER_SHIPS = ("numpy",)


@dataclass(frozen=True)
class BlenderLine:
    """The Blender releases that share one Python: the ``bpy`` wheel whose metadata states
    the numpy they ship (``bpy_meta``), and the manifest's version range."""
    python: str
    bpy: str
    version_min: str
    version_max: str  # exclusive, "" for none
    releases: str


#: Blender's Python -> its releases.  Official Blender 3.4 to 4.1 ship Python 3.10 (no zip:
#: install the add-on alone and set a Python interpreter in its preferences).
BLENDERS = {
    "3.11": BlenderLine("3.11", "5.0.1", "4.2.0", "5.1.0", "Blender 4.2 LTS to 5.0"),
    "3.13": BlenderLine("3.13", "5.2.3", "5.1.0", "", "Blender 5.1, 5.2 LTS, 5.3"),
}


def blender_line(python):
    try:
        return BLENDERS[python]
    except KeyError:
        raise BuildError(f"no zip for Python {python}: Blender 4.2 to 5.0 ship Python 3.11, "
                         "5.1 and later 3.13 (use --python 3.11 or 3.13); Blender 3.4 to "
                         "4.1 ship 3.10, for which the add-on alone is built (no --vendor) "
                         "and uses a Python interpreter set in its preferences") from None


def _manylinux(glibc_max, arch):
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(glibc_max, 16, -1)]
    return tags + [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]


def _macos(major_max, arch, major_min=11):
    tags = []
    for major in range(major_max, major_min - 1, -1):
        tags += [f"macosx_{major}_0_{arch}", f"macosx_{major}_0_universal2"]
    for minor in range(16, 8, -1):  # macOS 10.x tags still valid on 11+
        tags += [f"macosx_10_{minor}_{arch}", f"macosx_10_{minor}_universal2"]
    if arch == "x86_64":
        tags += [f"macosx_10_{minor}_intel" for minor in range(16, 8, -1)]
    return tags


@dataclass(frozen=True)
class Platform:
    name: str
    tags: tuple
    markers: dict
    #: requirement lines replacing requirements-addon.txt's for this platform (by name)
    overrides: dict = field(default_factory=dict)
    requires: str = ""


PLATFORMS = {
    "linux-x64": Platform(
        "linux-x64", tuple(_manylinux(35, "x86_64")),
        {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
         "platform_machine": "x86_64"},
        requires="glibc 2.35 or newer , libusb-1.0 and libidn2 (open3d-cpu 0.20 wheels: Ubuntu 22.04+, "
                 "Debian 12+)"),
    "windows-x64": Platform(
        "windows-x64", ("win_amd64",),
        {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
         "platform_machine": "AMD64"},
        requires="Windows 10 or newer, x64"),
    "macos-arm64": Platform(
        "macos-arm64", tuple(_macos(14, "arm64")),
        {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
         "platform_machine": "arm64"},
        requires="macOS 14 or newer (onnxruntime wheels), Apple silicon"),
    "macos-x64": Platform(
        "macos-x64", tuple(_macos(14, "x86_64", major_min=11)),
        {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
         "platform_machine": "x86_64"},
        requires="macOS 11 or newer, Intel"),
}


def get(name):
    try:
        return PLATFORMS[name]
    except KeyError:
        raise BuildError(f"unknown platform '{name}': use one of "
                         + ", ".join(PLATFORMS)) from None


def marker_env(platform, python):
    """The target's environment markers (pip_target.py swaps them in)."""
    env = dict(platform.markers)
    env.update(python_version=python, python_full_version=python + ".0",
               implementation_name="cpython", platform_python_implementation="CPython")
    return env
