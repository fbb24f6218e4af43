"""The add-on on Blender 5.1+'s Python 3.13: bpy 5.2.3 in the Debian 13 root that
scripts/setup_py313.sh makes (scripts/test.sh runs it first).

In the root: build.py builds the linux-x64 zip for Python 3.13 offline from the wheels
downloaded here (Blender 5.2's own validator checks it), Blender's extension installer
installs it into temp user folders, and Generate runs on a photo offline with NO interpreter
of the user's own: the worker is Blender's Python 3.13 (numpy 2) plus the wheels Blender
installed -- background removal with the bundled u2netp, Poisson with a mirrored back.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

import helpers
import blender_img2mesh

ROOT = os.environ.get("IMG2MESH_PY313_ROOT", os.path.join(helpers.REPO, ".venv-py313-root"))
IN_ROOT = os.path.join(helpers.REPO, "scripts", "in_py313_root.sh")
VERSION = blender_img2mesh.__version__
ZIP = f"blender_img2mesh-{VERSION}-linux-x64-py313.zip"


def in_root(*cmd, timeout=1800):
    proc = subprocess.run(["bash", IN_ROOT, *cmd], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (proc.stdout[-4000:] + proc.stderr[-4000:])
    return proc.stdout


@pytest.fixture(scope="module")
def work():
    """A folder inside the root (/tmp/img2mesh-py313 there) holding the photo and u2netp."""
    assert os.path.isfile(os.path.join(ROOT, ".img2mesh-root-ready")), \
        f"no Debian 13 root at {ROOT}: run bash scripts/setup_py313.sh (as root)"
    host = os.path.join(ROOT, "tmp", "img2mesh-py313")
    shutil.rmtree(host, ignore_errors=True)
    os.makedirs(os.path.join(host, "models"))
    shutil.copy(helpers.photo("coffee.png"), os.path.join(host, "coffee.png"))
    from blender_img2mesh.pipeline.models import default_models_dir

    u2netp = os.path.join(default_models_dir(), "u2netp.onnx")
    assert os.path.isfile(u2netp), "u2netp.onnx missing: run scripts/setup.sh"
    shutil.copy(u2netp, os.path.join(host, "models", "u2netp.onnx"))
    yield host, "/tmp/img2mesh-py313"
    shutil.rmtree(host, ignore_errors=True)  # the installed wheels: 560 MB


@pytest.fixture(scope="module")
def zip_py313(work):
    host, inside = work
    fill = subprocess.run([sys.executable, os.path.join(helpers.REPO, "build.py"), "--vendor",
                           "--platform", "linux-x64", "--python", "3.13", "--download-only"],
                          capture_output=True, text=True, timeout=1800, cwd=helpers.REPO,
                          stdin=subprocess.DEVNULL)  # online, once: .cache/wheels, .cache/bpy
    assert fill.returncode == 0, fill.stdout + fill.stderr
    out = in_root("python", "/repo/build.py", "--vendor", "--platform", "linux-x64",
                  "--python", "3.13", "--wheels-from", "/repo/.cache/wheels/linux-x64-py3.13",
                  "--with-u2netp", "--models-dir", inside + "/models", "--out", inside)
    print(out)
    assert "valid (python blender_ext.py of Blender 5.2)" in out, out
    return host, inside


def test_zip_for_python_313(zip_py313):
    import tomllib
    import zipfile

    host, _ = zip_py313
    with zipfile.ZipFile(os.path.join(host, ZIP)) as zf:
        manifest = tomllib.loads(zf.read("blender_img2mesh/blender_manifest.toml").decode())
    assert manifest["blender_version_min"] == "5.1.0" and "blender_version_max" not in manifest
    stems = {os.path.basename(w).split("-")[0].lower() for w in manifest["wheels"]}
    assert {"onnxruntime", "open3d_cpu", "scipy", "pillow", "huggingface_hub"} <= stems
    assert not stems & {"torch", "transformers", "diffusers", "rembg", "numpy", "numba",
                        "llvmlite", "opencv_python_headless", "pymatting", "dash", "plotly"}
    assert all("cp313" in w or "abi3" in w or "py3" in w for w in manifest["wheels"])
    assert os.path.getsize(os.path.join(host, ZIP)) <= 200e6


def test_generate_on_blender_52_with_its_own_python(zip_py313):
    host, inside = zip_py313
    opts = {"zip": f"{inside}/{ZIP}", "mode": "extension", "check": True,
            "generate": dict(filepath=f"{inside}/coffee.png", depth_model="inflate",
                             mesher="poisson", back="mirror", poisson_depth=6, max_size=192,
                             remove_background=True, segmenter="u2netp", offline=True,
                             models_dir=f"{inside}/empty-models")}
    out = in_root("env", f"BLENDER_USER_RESOURCES={inside}/user", f"HOME={inside}/home",
                  "python", "/repo/tests/blender/install_and_generate.py", json.dumps(opts))
    lines = [l for l in out.splitlines() if l.startswith("RESULT ")]
    assert lines, out
    info = json.loads(lines[-1][len("RESULT "):])
    site = f"{inside}/user/extensions/.local/lib/python3.13/site-packages"
    assert info["module"] == "bl_ext.user_default.blender_img2mesh" and info["enabled"]
    assert info["site_dirs"] == [site] and site in info["worker_pythonpath"]
    assert info["worker_python"].startswith("/opt/bpy/")  # Blender's Python, not the user's
    site_host = os.path.join(host, "user", "extensions", ".local", "lib", "python3.13",
                             "site-packages")
    assert os.path.isdir(os.path.join(site_host, "open3d"))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(site_host)
               for f in fs if not os.path.islink(os.path.join(d, f)))
    assert size <= 700e6  # the installed target
    assert not os.path.exists(os.path.join(host, "user", "extensions", ".local", "lib",
                                           "python3.13", "site-packages", "torch"))
    status = info["dependency_status"]
    assert status.startswith("OK - ") and "numpy 2." in status, status
    assert info["result"] == ["FINISHED"] and info["object"] == "coffee"
    assert info["vertices"] > 1000 and info["attr"] == ["Color", "POINT", "FLOAT_COLOR"]
    assert info["heavy_in_blender"] == []
    print(f"Blender 5.2 / Python 3.13: installed {size / 1e6:.0f} MB, install "
          f"{info['install_s']} s, first Generate {info['generate_s']} s; {status}")
