"""The real Blender binary (Debian's blender 3.4 in CI: apt-get install blender):
the headless script, a plain --python-expr script, and the saved .blend reopened."""

import json
import os
import shutil
import subprocess

import pytest

import helpers
from blender_img2mesh.blender.client import ply

SCRIPT = os.path.join(helpers.REPO, "scripts", "img2mesh_blender.py")

INSPECT = r"""
import bpy, json, sys
o = bpy.data.objects["{name}"]
m = o.data
a = m.color_attributes.active_color
rgba = [0.0] * (len(a.data) * 4)
a.data.foreach_get("color", rgba)
nodes = o.active_material.node_tree.nodes
vc = [n for n in nodes if n.bl_idname == "ShaderNodeVertexColor"]
bsdf = [n for n in nodes if n.type == "BSDF_PRINCIPLED"][0]
base = bsdf.inputs["Base Color"].links
tex = [n for n in nodes if n.type == "TEX_IMAGE"]
img = tex[0].image if tex else None
uv = [0.0] * (2 * len(m.loops)) if m.uv_layers else []
if uv:
    m.uv_layers.active.data.foreach_get("uv", uv)
idx = [0] * len(m.loops)
m.loops.foreach_get("vertex_index", idx)
print("INSPECT " + json.dumps({{
    "version": list(bpy.app.version), "vertices": len(m.vertices), "faces": len(m.polygons),
    "attr": [a.name, a.domain, a.data_type], "layer": vc[0].layer_name if vc else None,
    "linked": bool(vc and vc[0].outputs["Color"].links),
    "base": base[0].from_node.type if base else None, "uv_layers": [l.name for l in m.uv_layers],
    "uv": uv, "loops": idx, "active_node": getattr(nodes.active, "type", None),
    "image": img and [img.name, list(img.size), img.packed_file is not None,
                      img.colorspace_settings.name, tex[0].extension],
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
    assert info["layer"] == "Color"
    if info["image"] is None:  # vertex colors only
        assert info["linked"]
    else:  # the photo as a packed texture on Base Color, vertex colors kept
        assert info["base"] == "TEX_IMAGE" and info["uv_layers"] == ["UVMap"]
        assert info["image"][0] == "coffee Texture" and info["image"][2]
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
            "from blender_img2mesh.blender.client import worker_client; "
            "print('WORKER', worker_client.warm_worker().pid)\n" + INSPECT.format(name="chelsea"))
    proc = run_blender(["--python-expr", expr])
    pid = int(proc.stdout.split("WORKER ")[1].split()[0])
    assert helpers.wait_until(lambda: not helpers.pid_alive(pid), 10)  # gone with Blender
    assert "RESULT {'FINISHED'}" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = inspect(proc)
    assert info["heavy"] == [] and info["vertices"] > 1000


def test_no_drop_handler_on_blender_without_file_handlers(tmp_path):
    """Blender 3.4 has no FileHandler: the add-on registers (the drop operator alone,
    which still works when called) and unregisters without an error."""
    expr = (f"import sys; sys.path.insert(0, {helpers.REPO!r}); import bpy, blender_img2mesh; "
            "blender_img2mesh.register(); "
            "print('DROP', bpy.app.version_string, hasattr(bpy.types, 'FileHandler'), "
            "hasattr(bpy.types, 'IMG2MESH_FH_image'), "
            "hasattr(bpy.types, 'IMG2MESH_OT_drop_image')); "
            "blender_img2mesh.unregister(); print('UNREGISTERED')")
    proc = run_blender(["--python-expr", expr])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in out and "UNREGISTERED" in out, out[-3000:]
    version, has_fh, has_handler, has_op = \
        [l for l in proc.stdout.splitlines() if l.startswith("DROP ")][0].split()[1:]
    assert has_op == "True" and has_handler == has_fh
    if tuple(map(int, version.split(".")[:2])) < (4, 1):
        assert has_fh == "False"


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
            "from blender_img2mesh.blender.client import interpreter; "
            "print('PY', interpreter.blender_python(), sys.prefix)")
    proc = run_blender(["--python-expr", expr])
    line = [l for l in proc.stdout.splitlines() if l.startswith("PY ")]
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    exe, prefix = line[0].split()[1:]
    assert os.path.realpath(exe).startswith(os.path.realpath(prefix))


def test_textured_import_in_blender_binary(tmp_path):
    """Blender 3.4 (Debian's binary): a PLY with UVs and a texture is imported, the job
    folder deleted, the .blend saved and reopened: UVs exact per loop, the image packed;
    the headless script's exports work with that Blender's exporters."""
    job, out = tmp_path / "job", tmp_path / "out"
    job.mkdir()
    out.mkdir()
    path, verts, uv, colors, tris = helpers.textured_grid(str(job), n=6)
    blend = tmp_path / "t.blend"
    expr = (f"import sys, shutil; sys.path.insert(0, {helpers.REPO!r}); import bpy; "
            "bpy.ops.wm.read_homefile(use_empty=True); "
            "from blender_img2mesh.blender.scene import mesh_import; "
            f"mesh_import.import_result(bpy.context, {path!r}, 'grid'); "
            f"shutil.rmtree({str(job)!r}); "
            f"bpy.ops.wm.save_as_mainfile(filepath={str(blend)!r}); "
            "import importlib.util as u; "
            f"spec = u.spec_from_file_location('s', {SCRIPT!r}); "
            "s = u.module_from_spec(spec); spec.loader.exec_module(s); "
            "[s.export(f" + repr(str(out / "grid")) + " + e, bpy.data.objects['grid']) "
            "for e in ('.glb', '.obj', '.ply')]")
    proc = run_blender(["--python-expr", expr])
    assert blend.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    info = inspect(run_blender([str(blend), "--python-expr", INSPECT.format(name="grid")]))
    assert info["version"][:2] == [3, 4] or os.environ.get("IMG2MESH_ANY_BLENDER")
    assert info["uv_layers"] == ["UVMap"] and info["base"] == "TEX_IMAGE"
    assert info["loops"] == tris.reshape(-1).tolist()
    assert info["uv"] == uv[tris.reshape(-1)].reshape(-1).tolist()  # exact
    assert info["image"] == ["grid Texture", [16, 8], True, "sRGB", "EXTEND"]
    assert info["active_node"] == "TEX_IMAGE" and info["attr"][0] == "Color"
    assert (out / "grid.ply").is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = helpers.glb_json(out / "grid.glb")  # that Blender's glTF exporter
    attributes = doc["meshes"][0]["primitives"][0]["attributes"]
    assert "TEXCOORD_0" in attributes and "COLOR_0" not in attributes
    assert "baseColorTexture" in doc["materials"][0]["pbrMetallicRoughness"]
    assert len(doc["images"]) == 1
    png = (out / "grid_texture.png").read_bytes()
    assert png[:4] == b"\x89PNG"
    assert "map_Kd grid_texture.png" in (out / "grid.mtl").read_text()
    back = ply.read_ply(out / "grid.ply")  # that Blender's PLY exporter + our comment
    assert back.texture_file == str(out / "grid_texture.png") and back.uv is not None
    assert len(back.indices) == tris.size


def test_headless_script_batch_of_a_folder_and_files(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee.png", "chelsea.png"):
        shutil.copy(helpers.photo(name), folder / name)
    blend = tmp_path / "batch.blend"
    proc = run_blender(["-P", SCRIPT, "--", str(folder), helpers.photo("rocket.jpg"),
                        "--depth-model", "inflate", "--keep-background", "--max-size", "128",
                        "--clear", "--save", str(blend)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    printed = {ln.split(":")[1].strip(): float(ln.rsplit("at x = ", 1)[1])
               for ln in proc.stdout.splitlines() if " vertices at x = " in ln}
    assert sorted(printed) == ["chelsea", "coffee", "rocket"], proc.stdout[-2000:]
    expr = ("import bpy, json; c = bpy.data.collections['Img2Mesh Batch']; print('BATCH ' + "
            "json.dumps(sorted((o.name, round(o.location.x, 3), len(o.data.polygons)) "
            "for o in c.objects)))")
    check = run_blender([str(blend), "--python-expr", expr])
    line = [ln for ln in check.stdout.splitlines() if ln.startswith("BATCH ")]
    assert line, check.stdout[-2000:] + check.stderr[-2000:]
    objs = json.loads(line[0][6:])
    # the scene cleared: the first at the cursor, each beside the one before (Generate's rule)
    assert [n for n, _, _ in objs] == ["chelsea", "coffee", "rocket"]
    xs = [x for _, x, _ in objs]
    assert xs[0] == 0.0 and xs[0] < xs[1] < xs[2], xs
    assert {n: x for n, x, _ in objs} == pytest.approx(printed, abs=0.01)
    assert all(f > 1000 for _, _, f in objs)
