"""Which Python runs the worker, its environment, and the dependency check."""

import os
import sys

import pytest

import helpers
from blender_img2mesh.blender.client import interpreter, vendor


def test_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("IMG2MESH_PYTHON", helpers.PIPELINE_PYTHON)
    assert interpreter.resolve(preference=sys.executable) == helpers.PIPELINE_PYTHON
    monkeypatch.delenv("IMG2MESH_PYTHON")
    assert interpreter.resolve(preference=helpers.PIPELINE_PYTHON) == helpers.PIPELINE_PYTHON
    with pytest.raises(interpreter.InterpreterError, match="does not exist"):
        interpreter.resolve(preference=str(tmp_path / "nope" / "python"))
    # nothing set: Blender's own Python, checked to be of Blender's version and prefix
    exe = interpreter.resolve("")
    assert os.path.samefile(os.path.dirname(exe), os.path.join(sys.prefix, "bin"))


def test_blender_python_rejects_a_foreign_sys_executable(monkeypatch):
    """Like Debian's blender, whose sys.executable is whatever python3.11 is on PATH."""
    interpreter._checked.clear()
    monkeypatch.setattr(sys, "executable", helpers.PIPELINE_PYTHON)  # another prefix
    exe = interpreter.blender_python()
    assert exe == os.path.join(sys.prefix, "bin", "python%d.%d" % sys.version_info[:2])
    monkeypatch.setattr(sys, "prefix", "/nonexistent-prefix")
    with pytest.raises(interpreter.InterpreterError, match="cannot find Blender's own Python"):
        interpreter.blender_python()
    interpreter._checked.clear()


def test_child_env_keeps_blender_clean():
    path_before = list(sys.path)
    env = interpreter.child_env()
    parts = env["PYTHONPATH"].split(os.pathsep)
    assert parts[0] == helpers.REPO  # `-m blender_img2mesh` resolves to these very files
    assert sys.path == path_before and os.environ.get("PYTHONPATH") != env["PYTHONPATH"]


def test_vendored_site_packages_goes_on_child_path_only(monkeypatch, tmp_path):
    pkg = tmp_path / "blender_img2mesh"
    (pkg / "vendor" / "site-packages").mkdir(parents=True)
    monkeypatch.setattr(vendor, "PACKAGE_DIR", str(pkg))
    parts = interpreter.child_env()["PYTHONPATH"].split(os.pathsep)
    assert str(pkg / "vendor" / "site-packages") in parts
    assert str(pkg / "vendor" / "site-packages") not in sys.path


def test_dependency_check():
    ok, status = interpreter.check_dependencies(helpers.PIPELINE_PYTHON)
    assert ok, status
    assert all(name in status for name in interpreter.HEAVY_MODULES)
    ok, status = interpreter.check_dependencies(sys.executable)  # the bpy venv: no onnxruntime
    assert not ok and "missing" in status and "onnxruntime" in status
    assert not [m for m in helpers.HEAVY if m in sys.modules]


def test_dependency_check_operator(addon, monkeypatch):
    import bpy

    monkeypatch.setenv("IMG2MESH_PYTHON", sys.executable)
    with pytest.raises(RuntimeError, match="missing onnxruntime"):
        bpy.ops.img2mesh.check_dependencies()
    monkeypatch.setenv("IMG2MESH_PYTHON", helpers.PIPELINE_PYTHON)
    assert bpy.ops.img2mesh.check_dependencies() == {"FINISHED"}
