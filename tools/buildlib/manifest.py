"""The add-on's version (one value in four places) and the manifest written into a zip."""

import ast
import os
import re

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

from . import BuildError

MANIFEST = "blender_manifest.toml"


def _literal(tree, name):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def _read_toml(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if tomllib is not None:
        return tomllib.loads(data.decode("utf-8"))
    found = re.search(rb'^version\s*=\s*"([^"]+)"', data, re.M)  # enough for the check
    return {"version": found.group(1).decode() if found else None}


def version(repo, package="blender_img2mesh"):
    """The version, after checking __init__.py, bl_info, the manifest and pyproject agree."""
    init = os.path.join(repo, package, "__init__.py")
    with open(init, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), init)
    found = {
        "__version__ in __init__.py": _literal(tree, "__version__"),
        'bl_info["version"]': ".".join(map(str, (_literal(tree, "bl_info") or {})
                                           .get("version", ()))) or None,
        MANIFEST: _read_toml(os.path.join(repo, package, MANIFEST)).get("version"),
    }
    pyproject = os.path.join(repo, "pyproject.toml")
    if os.path.isfile(pyproject):
        found["pyproject.toml"] = _read_toml(pyproject).get("project", {}).get("version") \
            if tomllib else _read_toml(pyproject).get("version")
    if len(set(found.values())) != 1 or None in found.values():
        raise BuildError("the version differs between " + ", ".join(
            f"{where} ({value})" for where, value in found.items()) + ": make them equal")
    return found["__version__ in __init__.py"]


def exclude_patterns(repo, package="blender_img2mesh"):
    if tomllib is None:
        return ["__pycache__/", "*.pyc", "/vendor/", "/wheels/", "/models/"]
    data = _read_toml(os.path.join(repo, package, MANIFEST))
    return list(data.get("build", {}).get("paths_exclude_pattern", []))


def with_wheels(text, platform_names, wheel_names, version_min=None, version_max=None):
    """The manifest text with ``platforms`` and ``wheels`` set (before the first table),
    and ``blender_version_min`` / ``blender_version_max`` (exclusive) when given."""
    text = re.sub(r"(?m)^(platforms|wheels)\s*=\s*\[[^\]]*\]\s*\n", "", text)
    if version_min:
        text, n = re.subn(r'(?m)^blender_version_min\s*=\s*"[^"]*"',
                          f'blender_version_min = "{version_min}"', text)
        if n != 1:
            raise BuildError(f"{MANIFEST} has no blender_version_min line")
    text = re.sub(r"(?m)^blender_version_max\s*=.*\n", "", text)
    if version_max:
        text = re.sub(r'(?m)^(blender_version_min\s*=.*\n)',
                      lambda m: m.group(1) + f'blender_version_max = "{version_max}"\n', text)
    lines = ["# written by build.py --vendor", "platforms = [%s]" % ", ".join(
        f'"{p}"' for p in platform_names), "wheels = ["]
    lines += [f'  "./wheels/{name}",' for name in wheel_names] + ["]", ""]
    block = "\n".join(lines) + "\n"
    first_table = re.search(r"(?m)^\[", text)
    at = first_table.start() if first_table else len(text)
    return text[:at] + block + text[at:]
