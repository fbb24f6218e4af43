"""build.py: the zips install in real Blender (bpy 5.0.1) and Generate works from them.

The vendored linux-x64 build downloads its wheels once into .cache/wheels/ (reused by later
runs; CI has PyPI), then the package is built offline from those local wheels, installed
as an extension in a Blender whose user folders are a temp dir, and Generate runs with
NO $IMG2MESH_PYTHON: the worker is Blender's Python (numpy<2) plus Blender-installed wheels.
"""

import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

import helpers
import blender_img2mesh

BUILD = os.path.join(helpers.REPO, "build.py")
CACHE = os.path.join(helpers.REPO, ".cache", "wheels", "linux-x64-py3.11")
SCRIPT = os.path.join(helpers.HERE, "install_and_generate.py")
TOP = "blender_img2mesh/"
VERSION = blender_img2mesh.__version__


def run_build(*args, env=None, timeout=1800):
    return subprocess.run([sys.executable, BUILD, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=helpers.REPO,
                          env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)


def blender_ext():
    """Blender's own extension tool (validator, wheel/platform rules) from the bpy wheel."""
    found = glob.glob(os.path.join(os.path.dirname(importlib.util.find_spec("bpy").origin),
                                   "*", "scripts", "addons_core", "bl_pkg", "cli",
                                   "blender_ext.py"))
    assert found, "blender_ext.py not found in the bpy wheel"
    spec = importlib.util.spec_from_file_location("blender_ext_for_tests", found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return found[0], module


def validate(zip_path):
    proc = subprocess.run([sys.executable, blender_ext()[0], "validate", str(zip_path)],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode == 0 and "Success" in proc.stdout, proc.stdout + proc.stderr


def read_manifest(zf):
    return tomllib.loads(zf.read(TOP + "blender_manifest.toml").decode())


@pytest.fixture(scope="session")
def plain_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = run_build("--with-u2netp", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid (python blender_ext.py of Blender 5." in proc.stdout
    return out / f"blender_img2mesh-{VERSION}.zip"


@pytest.fixture(scope="session")
def vendored_zip(tmp_path_factory):
    fill = run_build("--vendor", "--platform", "linux-x64", "--download-only")
    assert fill.returncode == 0, fill.stdout + fill.stderr
    out = tmp_path_factory.mktemp("dist-vendored")
    proc = run_build("--vendor", "--platform", "linux-x64", "--wheels-from", CACHE,
                     "--with-u2netp", "--out", out)  # offline: only the local wheels
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)
    path = out / f"blender_img2mesh-{VERSION}-linux-x64-py311.zip"
    yield path
    path.unlink()  # 600 MB: not kept among pytest's last temp folders


@pytest.fixture(scope="session")
def tiny_glpn(tmp_path_factory):
    """A tiny random GLPN depth model saved with save_pretrained (built in .venv)."""
    folder = tmp_path_factory.mktemp("tiny") / "glpn"
    code = (
        "import sys, torch\n"
        "from transformers import GLPNConfig, GLPNForDepthEstimation, GLPNImageProcessor\n"
        "torch.manual_seed(0)\n"
        "m = GLPNForDepthEstimation(GLPNConfig(num_encoder_blocks=4, depths=[1, 1, 1, 1], "
        "sr_ratios=[8, 4, 2, 1], hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 1, 1, 1],"
        " patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2], decoder_hidden_size=16, "
        "mlp_ratios=[2, 2, 2, 2]))\n"
        "m.save_pretrained(sys.argv[1]); GLPNImageProcessor().save_pretrained(sys.argv[1])\n")
    proc = subprocess.run([helpers.PIPELINE_PYTHON, "-c", code, str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return str(folder)


def install_and_generate(tmp_path, zip_path, mode, generate=None, check=False,
                         worker_python=helpers.PIPELINE_PYTHON, prefs_python=None):
    """Run install_and_generate.py in a fresh bpy process with temp user folders."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("IMG2MESH_PYTHON", "PYTHONPATH", "BLENDER_USER_CONFIG",
                        "BLENDER_USER_SCRIPTS", "BLENDER_USER_EXTENSIONS")}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "user")
    env["HOME"] = str(tmp_path / "home")  # nothing of the developer's Blender is touched
    if worker_python:
        env["IMG2MESH_PYTHON"] = worker_python
    opts = {"zip": str(zip_path), "mode": mode, "generate": generate, "check": check,
            "prefs_python": prefs_python}
    proc = subprocess.run([sys.executable, SCRIPT, json.dumps(opts)], capture_output=True,
                          text=True, timeout=900, env=env, cwd=str(tmp_path),
                          stdin=subprocess.DEVNULL)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT "):])


def generate_kwargs(tiny_glpn, tmp_path, **extra):
    options = dict(filepath=helpers.photo("coffee.png"), depth_model="CUSTOM",
                   depth_model_custom=tiny_glpn, poisson_depth=6, max_size=192,
                   remove_background=False, offline=True, models_dir=str(tmp_path / "none"))
    options.update(extra)
    return options


# ---------------------------------------------------------------- the add-on alone


def test_plain_zip_layout_and_manifest(plain_zip):
    with zipfile.ZipFile(plain_zip) as zf:
        names = zf.namelist()
        manifest = read_manifest(zf)
        init = zf.read(TOP + "__init__.py").decode()
    assert all(n.startswith(TOP) for n in names)  # one folder: legacy and extension alike
    assert TOP + "__init__.py" in names and TOP + "pipeline/worker.py" in names
    assert TOP + "models/u2netp.onnx" in names  # background removal with no download
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".partial"))]
    assert not [n for n in names if n.startswith((TOP + "wheels/", TOP + "vendor/"))]
    assert manifest["id"] == "blender_img2mesh" and manifest["type"] == "add-on"
    assert manifest["version"] == VERSION == ".".join(map(str, blender_img2mesh.bl_info["version"]))
    assert f'"version": ({VERSION.replace(".", ", ")})' in init
    assert set(manifest["permissions"]) == {"files", "network"}
    assert "wheels" not in manifest and "platforms" not in manifest
    ok, out = validate(plain_zip)
    assert ok, out


def test_validator_rejects_a_bad_manifest(tmp_path, plain_zip):
    """build.py's validation is Blender's and really fails: a tagline ending in a period."""
    sys.path.insert(0, os.path.join(helpers.REPO, "tools"))
    from buildlib import BuildError, package

    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(plain_zip) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("blender_manifest.toml"):
                data = data.replace(b'colored 3D mesh"', b'colored 3D mesh."')
            dst.writestr(item, data)
    with pytest.raises(BuildError, match="validator rejects bad.zip.*punctuation"):
        package.validate(str(bad), helpers.REPO)


def test_plain_zip_installs_as_extension_and_generates(tmp_path, plain_zip, tiny_glpn):
    """The add-on alone, with the interpreter set in its preferences (no environment)."""
    info = install_and_generate(tmp_path, plain_zip, "extension",
                                generate=generate_kwargs(tiny_glpn, tmp_path),
                                worker_python=None, prefs_python=helpers.PIPELINE_PYTHON)
    assert info["worker_python"] == helpers.PIPELINE_PYTHON
    ext_dir = str(tmp_path / "user" / "extensions" / "user_default")
    assert info["module"] == "bl_ext.user_default.blender_img2mesh" and info["enabled"]
    assert info["file"].startswith(ext_dir)  # the installed copy, not this checkout
    assert info["worker_pythonpath"][0] == ext_dir  # and the worker runs it too
    # the preference's Python brings its own packages: nothing bundled is needed
    assert info["vendor_status"] == \
        "No bundled packages: the worker uses the packages of its own Python"
    assert info["result"] == ["FINISHED"] and info["object"] == "coffee"
    assert info["vertices"] > 1000 and info["attr"] == ["Color", "POINT", "FLOAT_COLOR"]
    assert max(info["dims"]) == pytest.approx(2.0, rel=1e-3)
    assert info["heavy_in_blender"] == []


def test_plain_zip_installs_as_legacy_addon(tmp_path, plain_zip, tiny_glpn):
    info = install_and_generate(tmp_path, plain_zip, "legacy",
                                generate=generate_kwargs(tiny_glpn, tmp_path))
    assert info["module"] == "blender_img2mesh" and info["enabled"]
    assert info["file"] == str(tmp_path / "user" / "scripts" / "addons" / "blender_img2mesh"
                               / "__init__.py")
    assert info["result"] == ["FINISHED"] and info["vertices"] > 1000
    assert info["heavy_in_blender"] == []


# ---------------------------------------------------------------- vendored linux-x64


def test_vendored_manifest_lists_the_wheels_in_the_zip(vendored_zip):
    _, ext = blender_ext()
    with zipfile.ZipFile(vendored_zip) as zf:
        names = set(zf.namelist())
        manifest = read_manifest(zf)
    assert manifest["platforms"] == ["linux-x64"]
    assert manifest["blender_version_min"] == "4.2.0"  # 4.2 LTS to 5.0: Python 3.11
    assert manifest["blender_version_max"] == "5.1.0"
    listed = manifest["wheels"]
    in_zip = {n[len(TOP):] for n in names if n.startswith(TOP + "wheels/")}
    assert {w[2:] for w in listed} == in_zip and all(w.startswith("./wheels/") for w in listed)
    for wheel in listed:
        assert ext.blender_platform_compatible_with_wheel_platform_from_filepath(
            "linux-x64", wheel), wheel
        py, abi = os.path.basename(wheel).split("-")[-3:-1]
        tags = set(py.split("."))
        assert tags & {"cp311", "py3", "py311"} or abi == "abi3" and any(
            t.startswith("cp3") and int(t[3:]) <= 11 for t in tags), wheel
    stems = {os.path.basename(w).split("-")[0].lower() for w in listed}
    assert {"open3d_cpu", "onnxruntime", "scipy", "pillow", "huggingface_hub"} <= stems
    assert "numpy" not in stems and "open3d" not in stems  # Blender's numpy; CPU open3d
    # light: no PyTorch & co (an optional install), none of rembg's or open3d's viewer's
    assert not stems & {"torch", "transformers", "diffusers", "rembg", "numba", "llvmlite",
                        "pymatting", "opencv_python_headless", "dash", "plotly", "ipywidgets"}
    assert os.path.getsize(vendored_zip) <= 200e6
    assert TOP + "models/u2netp.onnx" in names
    ok, out = validate(vendored_zip)
    assert ok, out


def test_vendored_extension_runs_on_blenders_python(tmp_path, vendored_zip, tiny_glpn):
    """No interpreter set: Blender's own Python (numpy<2) + the wheels Blender installed,
    the bundled u2netp for background removal (empty models folder, offline), Poisson
    (open3d) with a mirrored back."""
    try:
        info = install_and_generate(
            tmp_path, vendored_zip, "extension", check=True, worker_python=None,
            generate=generate_kwargs(tiny_glpn, tmp_path, remove_background=True,
                                     segmenter="u2netp", depth_model="inflate",
                                     mesher="poisson", back="mirror"))
        open3d_installed = os.path.isdir(os.path.join(
            tmp_path, "user", "extensions", ".local", "lib", "python3.11", "site-packages",
            "open3d"))
    finally:
        shutil.rmtree(tmp_path / "user", ignore_errors=True)  # 2.5 GB of installed wheels
    site = str(tmp_path / "user" / "extensions" / ".local" / "lib" / "python3.11" /
               "site-packages")
    assert info["site_dirs"] == [site] and open3d_installed
    assert os.path.samefile(info["worker_python"], os.path.join(sys.prefix, "bin", "python"))
    assert site in info["worker_pythonpath"]
    status = info["dependency_status"]
    assert status.startswith("OK - ") and "numpy 1.26" in status and "no PyTorch" in status, \
        status
    assert info["result"] == ["FINISHED"] and info["object"] == "coffee"
    assert info["vertices"] > 1000 and info["attr"] == ["Color", "POINT", "FLOAT_COLOR"]
    assert info["heavy_in_blender"] == []
    print(f"vendored: install {info['install_s']} s, first Generate {info['generate_s']} s")


# ---------------------------------------------------------------- bad cases


def _one_line_error(proc, out_dir):
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), \
        proc.stdout + proc.stderr
    assert not out_dir.exists() or not list(out_dir.iterdir())  # no zip, no partial
    return lines[0]


def test_unknown_platform(tmp_path):
    msg = _one_line_error(run_build("--vendor", "--platform", "amiga-x64", "--out",
                                    tmp_path / "d"), tmp_path / "d")
    assert "unknown platform 'amiga-x64'" in msg and "linux-x64" in msg


def test_missing_wheel_for_platform(tmp_path, vendored_zip):
    """Offline from the Linux wheels, a Windows build lacks the Windows wheels."""
    shutil.copy(glob.glob(os.path.join(helpers.REPO, ".cache", "bpy", "bpy-5.0.1-*.whl"))[0],
                tmp_path)  # the bpy wheel (numpy) is found; the Windows wheels are not
    msg = _one_line_error(run_build("--vendor", "--platform", "windows-x64", "--wheels-from",
                                    CACHE, "--wheels-from", tmp_path, "--out", tmp_path / "d"),
                          tmp_path / "d")
    assert "no wheel of " in msg and "windows-x64" in msg and CACHE in msg


def test_python_no_blender_ships(tmp_path):
    msg = _one_line_error(run_build("--vendor", "--platform", "linux-x64", "--python", "3.10",
                                    "--out", tmp_path / "d"), tmp_path / "d")
    assert "no zip for Python 3.10" in msg and "3.11 or 3.13" in msg


def test_no_network(tmp_path):
    msg = _one_line_error(run_build("--vendor", "--platform", "linux-x64", "--index-url",
                                    "http://127.0.0.1:9/", "--wheel-cache", tmp_path / "c",
                                    "--out", tmp_path / "d", env={"PIP_RETRIES": "1"}),
                          tmp_path / "d")
    assert "cannot reach the package index (http://127.0.0.1:9/)" in msg
    assert "--wheels-from" in msg
