"""The platforms a vendored package is built for, and the explicit choices made for each.

Blender's platform names (``linux-x64``, ...) as in ``blender_manifest.toml``; for each:
the wheel tags pip may take (best first), the environment markers of the target (so that
``; sys_platform == ...`` lines resolve as they would there), and how torch is chosen.
"""

from dataclasses import dataclass, field

from . import BuildError

#: Blender's Python -> the numpy Blender ships with it (never vendored: the worker uses
#: Blender's own, so every other wheel is resolved against exactly this version).
#: Blender 4.2 LTS to 5.0 bundle Python 3.11 and numpy 1.26.4 (bpy 5.0.1: numpy<2).
BLENDER_NUMPY = {"3.11": "1.26.4"}
#: packages Blender ships that must not be vendored
BLENDER_SHIPS = ("numpy",)

PYTORCH_INDEX = "https://download.pytorch.org/whl/{variant}"


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
    #: torch build -> (requirement template, extra index or None, what it is)
    torch: dict
    #: requirement lines replacing requirements.txt's for this platform (by package name)
    overrides: dict = field(default_factory=dict)
    requires: str = ""


PLATFORMS = {
    "linux-x64": Platform(
        "linux-x64", tuple(_manylinux(35, "x86_64")),
        {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
         "platform_machine": "x86_64"},
        torch={"cpu": ("torch=={v}+cpu", PYTORCH_INDEX.format(variant="cpu"),
                       "CPU build (PyTorch's CPU index; PyPI's Linux torch is the CUDA one)"),
               "cuda": ("torch=={v}", None, "PyPI's CUDA build (+ nvidia-* wheels, several GB)")},
        requires="glibc 2.35 or newer (open3d-cpu 0.20 wheels: Ubuntu 22.04+, Debian 12+)"),
    "windows-x64": Platform(
        "windows-x64", ("win_amd64",),
        {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
         "platform_machine": "AMD64"},
        torch={"cpu": ("torch=={v}", None, "PyPI's build (CPU only on Windows)"),
               "cuda": ("torch=={v}+cu128", PYTORCH_INDEX.format(variant="cu128"),
                        "CUDA 12.8 build (PyTorch's cu128 index)")},
        requires="Windows 10 or newer, x64"),
    "macos-arm64": Platform(
        "macos-arm64", tuple(_macos(14, "arm64")),
        {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
         "platform_machine": "arm64"},
        torch={"cpu": ("torch=={v}", None, "PyPI's build (CPU and Apple GPU through MPS)")},
        requires="macOS 14 or newer (onnxruntime wheels), Apple silicon"),
    "macos-x64": Platform(
        "macos-x64", tuple(_macos(14, "x86_64", major_min=11)),
        {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
         "platform_machine": "x86_64"},
        # PyTorch stopped publishing Intel-mac wheels after 2.2.2
        torch={"cpu": ("torch==2.2.2", None, "PyPI's 2.2.2, the last Intel-mac build")},
        requires="macOS 11 or newer, Intel"),
}


def get(name):
    try:
        return PLATFORMS[name]
    except KeyError:
        raise BuildError(f"unknown platform '{name}': use one of "
                         + ", ".join(PLATFORMS)) from None


def torch_choice(platform, build, version, index=None):
    """(requirement, extra index or None, description) of the torch build for a platform."""
    if build not in platform.torch:
        raise BuildError(f"no '{build}' torch build for {platform.name}: use "
                         + " or ".join(f"--torch {b}" for b in platform.torch))
    template, default_index, what = platform.torch[build]
    return template.format(v=version), index or default_index, what


def numpy_for(python):
    try:
        return BLENDER_NUMPY[python]
    except KeyError:
        raise BuildError(f"no known Blender ships Python {python}: use --python "
                         + " or ".join(BLENDER_NUMPY)) from None


def marker_env(platform, python):
    """The target's environment markers (pip_target.py swaps them in)."""
    env = dict(platform.markers)
    env.update(python_version=python, python_full_version=python + ".0",
               implementation_name="cpython", platform_python_implementation="CPython")
    return env
