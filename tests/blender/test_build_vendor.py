"""A vendored zip installed the legacy way: its wheels are unpacked into the add-on's private
vendor/site-packages on first use and put on the worker's PYTHONPATH only."""

import os
import stat
import subprocess
import sys
import zipfile

from blender_img2mesh.blender.client import interpreter, vendor


def make_wheel(folder, name="tinydep", version="1.0"):
    path = folder / f"{name}-{version}-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "from .more import VALUE\n")
        zf.writestr(f"{name}-{version}.data/platlib/{name}/more.py", "VALUE = 42\n")
        zf.writestr(f"{name}-{version}.data/scripts/{name}-cli", "#!/bin/sh\n")
        info = zipfile.ZipInfo(f"{name}/bin/helper")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, "#!/bin/sh\necho hi\n")
        zf.writestr(f"{name}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


def test_legacy_install_unpacks_wheels_for_the_worker(monkeypatch, tmp_path):
    pkg = tmp_path / "blender_img2mesh"
    (pkg / "wheels").mkdir(parents=True)
    make_wheel(pkg / "wheels")
    monkeypatch.setattr(vendor, "PACKAGE_DIR", str(pkg))
    monkeypatch.setattr(vendor, "IS_EXTENSION", False)
    monkeypatch.setattr(interpreter, "PACKAGE_DIR", str(pkg))
    assert vendor.needs_unpack() and "not unpacked yet" in vendor.status()
    path_before = list(sys.path)

    env = interpreter.child_env()  # the first worker start unpacks

    site = pkg / "vendor" / "site-packages"
    assert str(site) in env["PYTHONPATH"].split(os.pathsep)
    assert (site / "tinydep" / "more.py").is_file()  # .data/platlib moved to the top
    assert not (site / "tinydep-1.0.data").exists() and not (site / "tinydep-cli").exists()
    assert os.access(site / "tinydep" / "bin" / "helper", os.X_OK)
    assert not vendor.needs_unpack() and "unpacked in" in vendor.status()
    assert not (pkg / "vendor" / "site-packages.partial").exists()
    assert sys.path == path_before and "tinydep" not in sys.modules
    out = subprocess.run([sys.executable, "-c", "import tinydep; print(tinydep.VALUE)"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "42", out.stderr

    # a new zip (other wheels) is unpacked again, replacing the old folder whole
    for old in (pkg / "wheels").iterdir():
        old.unlink()
    make_wheel(pkg / "wheels", version="2.0")
    assert vendor.needs_unpack()
    interpreter.child_env()
    assert not vendor.needs_unpack()
    assert sorted(p.name for p in (pkg / "vendor").iterdir()) == ["site-packages"]


def test_unpack_refuses_paths_outside(tmp_path):
    bad = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../escaped.py", "x = 1\n")
    target = tmp_path / "site"
    try:
        vendor.unpack([str(bad)], str(target))
    except ValueError as exc:
        assert "unsafe path" in str(exc)
    else:
        raise AssertionError("an escaping path was extracted")
    assert not (tmp_path / "escaped.py").exists() and not target.exists()
    assert not (tmp_path / "site.partial").exists()


def test_wheels_for_another_python_are_reported(monkeypatch, tmp_path):
    pkg = tmp_path / "blender_img2mesh"
    (pkg / "wheels").mkdir(parents=True)
    make_wheel(pkg / "wheels").rename(pkg / "wheels" / "x-1.0-cp399-cp399-win_amd64.whl")
    monkeypatch.setattr(vendor, "PACKAGE_DIR", str(pkg))
    assert "are for Python 3.99" in vendor.status() and "build.py --python 3.11" in vendor.status()


def test_unpack_operator_only_where_there_is_something_to_unpack(addon):
    import bpy

    assert vendor.packaged_wheels() == []  # this checkout: no wheels
    assert not bpy.ops.img2mesh.unpack_dependencies.poll()
    assert vendor.status().startswith("No bundled packages: Blender's own Python needs")
