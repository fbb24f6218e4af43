"""The real Blender binary (Debian's blender 3.4 in CI: apt-get install blender):
the headless script, a plain --python-expr script, and the saved .blend reopened."""

import json
import os
import shutil
import subprocess

import pytest

import helpers

SCRIPT = os.path.join(helpers.REPO, "scripts", "img2mesh_blender.py")

INSPECT = r"""
import bpy, json, sys
o = bpy.data.objects["{name}"]
m = o.data
a = m.color_attributes.active_color
rgba = [0.0] * (len(a.data) * 4)
a.data.foreach_get("color", rgba)
vc = [n for n in o.active_material.node_tree.nodes if n.bl_idname == "ShaderNodeVertexColor"]
print("INSPECT " + json.dumps({{
    "version": list(bpy.app.version), "vertices": len(m.vertices), "faces": len(m.polygons),
    "attr": [a.name, a.domain, a.data_type], "layer": vc[0].layer_name if vc else None,
    "linked": bool(vc and vc[0].outputs["Color"].links),
    "rgba_mean": [sum(rgba[i::4]) / len(a.data) for i in range(4)],
    "dims": list(o.dimensions), "camera": getattr(bpy.context.scene.camera, "name", None),
    "heavy": [k for k in ("torch", "open3d", "transformers", "rembg") if k in sys.modules]}}))
"""


def blender():
    exe = shutil.which("blender")
    assert exe, "the blender binary is required: apt-get install -y blender"
    return exe


def run_blender(args, timeout=600):
    env = dict(os.environ, IMG2MESH_PYTHON=helpers.PIPELINE_PYTHON)
    proc = subprocess.run([blender(), "-b", "--factory-startup", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    return proc


def inspect(proc):
    lines = [l for l in proc.stdout.splitlines() if l.startswith("INSPECT ")]
    assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("INSPECT "):])


def test_headless_script_saves_colored_mesh(tmp_path):
    blend, glb = tmp_path / "out.blend", tmp_path / "out.glb"
    helpers.segment_kwargs()  # fails when u2netp is missing
    seg = ["--models-dir", helpers.models_dir(), "--offline"]
    proc = run_blender(["-P", SCRIPT, "--", helpers.photo("coffee.png"), "--depth-model",
                        "inflate", "--poisson-depth", "7", "--camera", "--save", str(blend),
                        "--export", str(glb), *seg])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "img2mesh: coffee:" in proc.stdout
    assert blend.stat().st_size > 0 and glb.read_bytes()[:4] == b"glTF"
    info = inspect(run_blender([str(blend), "--python-expr", INSPECT.format(name="coffee")]))
    assert info["vertices"] > 1000 and info["faces"] > 1000
    assert info["attr"] == ["Color", "POINT", "FLOAT_COLOR"]
    assert info["layer"] == "Color" and info["linked"]
    mean = info["rgba_mean"]
    assert 0.02 < min(mean[:3]) and max(mean[:3]) < 0.9 and mean[3] == pytest.approx(1.0)
    assert max(info["dims"]) == pytest.approx(2.0, rel=1e-3)
    assert info["camera"] == "coffee Camera"


def test_python_expr_operator_and_no_heavy_imports(tmp_path):
    expr = (f"import sys; sys.path.insert(0, {helpers.REPO!r}); import blender_img2mesh; "
            "blender_img2mesh.register(); import bpy; "
            f"bpy.ops.wm.read_homefile(use_empty=True); "
            f"r = bpy.ops.img2mesh.generate(filepath={helpers.photo('chelsea.png')!r}, "
            "depth_model='inflate', remove_background=False, poisson_depth=6); "
            "print('RESULT', r); "
            "from blender_img2mesh.blender import worker_client; "
            "print('WORKER', worker_client.warm_worker().pid)\n" + INSPECT.format(name="chelsea"))
    proc = run_blender(["--python-expr", expr])
    pid = int(proc.stdout.split("WORKER ")[1].split()[0])
    assert helpers.wait_until(lambda: not helpers.pid_alive(pid), 10)  # gone with Blender
    assert "RESULT {'FINISHED'}" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = inspect(proc)
    assert info["heavy"] == [] and info["vertices"] > 1000


def test_headless_script_failure_exit_code(tmp_path):
    proc = run_blender(["-P", SCRIPT, "--", str(tmp_path / "missing.jpg"), "--save",
                        str(tmp_path / "x.blend")])
    assert proc.returncode == 1
    assert "image file not found" in proc.stderr
    assert not (tmp_path / "x.blend").exists()


def test_blender_python_is_checked_on_debian():
    """Debian's blender reports the first python3.11 on PATH as sys.executable; the
    add-on must find the interpreter Blender really runs on (same prefix)."""
    expr = (f"import sys; sys.path.insert(0, {helpers.REPO!r}); "
            "from blender_img2mesh.blender import interpreter; "
            "print('PY', interpreter.blender_python(), sys.prefix)")
    proc = run_blender(["--python-expr", expr])
    line = [l for l in proc.stdout.splitlines() if l.startswith("PY ")]
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    exe, prefix = line[0].split()[1:]
    assert os.path.realpath(exe).startswith(os.path.realpath(prefix))
