"""The add-on on Blender 5.1+'s Python 3.13: bpy 5.2.3 in the Debian 13 root that
scripts/setup_py313.sh makes (scripts/test.sh runs it first).

In the root: build.py builds the linux-x64 zip for Python 3.13 offline from the wheels
downloaded here (Blender 5.2's own validator checks it), Blender's extension installer
installs it into temp user folders, and Generate runs on a photo offline with NO interpreter
of the user's own: the worker is Blender's Python 3.13 (numpy 2) plus the wheels Blender
installed -- background removal with the bundled u2netp, Poisson with a mirrored back.
In the same Blender session a second Generate takes the learned-depth path: a tiny Depth
Anything V2 ONNX repository (tests/tiny_onnx_repo.py, built here with the pipeline venv's
torch) served under the real repository id by the local imitation of the Hub
(tests/hub_server.py on 127.0.0.1, HF_ENDPOINT), downloaded by the add-on's worker with
Online Access on, and run by onnxruntime -- with no torch or transformers in the worker
(tests/blender/worker_probe/ records what it imported).
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

import helpers
import blender_img2mesh
from blender_img2mesh.pipeline import catalog

ROOT = os.environ.get("IMG2MESH_PY313_ROOT", os.path.join(helpers.REPO, ".venv-py313-root"))
IN_ROOT = os.path.join(helpers.REPO, "scripts", "in_py313_root.sh")
VERSION = blender_img2mesh.__version__
ZIP = f"blender_img2mesh-{VERSION}-linux-x64-py313.zip"
TESTS = os.path.dirname(helpers.HERE)
#: the repository the default learned model (Depth Anything V2 Small) downloads
DEPTH_REPO = catalog.DEPTH_ONNX_REPOS["depth-anything-v2-small"]


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
def tiny_repo_build(tmp_path_factory):
    """The tiny ONNX repository, built by the pipeline venv (torch) while the zip is made."""
    out = str(tmp_path_factory.mktemp("tiny_onnx"))
    proc = subprocess.Popen([helpers.PIPELINE_PYTHON, os.path.join(TESTS, "tiny_onnx_repo.py"),
                             out], cwd=helpers.REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, PYTHONPATH=helpers.REPO))
    yield proc, os.path.join(out, "repo")
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def hub(tiny_repo_build):
    """The local imitation of the Hub serving the tiny repository as ``DEPTH_REPO``."""
    proc, repo = tiny_repo_build
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, output[-4000:]
    sys.path.insert(0, TESTS)
    try:
        from hub_server import FakeHub
    finally:
        sys.path.remove(TESTS)
    server = FakeHub().start()
    server.add(DEPTH_REPO, repo)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def zip_py313(work, tiny_repo_build):
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


@pytest.fixture(scope="module")
def session(zip_py313, hub):
    """One Blender 5.2.3 session: install the zip, Generate offline (inflation), then
    Generate with the learned depth model, downloaded from the Hub imitation."""
    host, inside = zip_py313
    os.makedirs(os.path.join(host, "probe"))
    common = dict(filepath=f"{inside}/coffee.png", mesher="poisson", back="mirror",
                  poisson_depth=6, max_size=192, remove_background=True, segmenter="u2netp")
    opts = {"zip": f"{inside}/{ZIP}", "mode": "extension", "check": True,
            "generate": dict(common, depth_model="inflate", offline=True,
                             models_dir=f"{inside}/empty-models"),
            "then": [{"online": True,
                      "generate": dict(common, depth_model="depth-anything-v2-small",
                                       offline=False, models_dir=f"{inside}/depth-models")}]}
    out = in_root("env", f"BLENDER_USER_RESOURCES={inside}/user", f"HOME={inside}/home",
                  *(f"{k}={v}" for k, v in hub.env.items()),
                  f"IMG2MESH_PROBE_DIR={inside}/probe",
                  "PYTHONPATH=/repo/tests/blender/worker_probe",
                  "python", "/repo/tests/blender/install_and_generate.py", json.dumps(opts))
    lines = [l for l in out.splitlines() if l.startswith("RESULT ")]
    assert lines, out
    return host, inside, json.loads(lines[-1][len("RESULT "):])


def test_generate_on_blender_52_with_its_own_python(session):
    host, inside, info = session
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


def test_learned_depth_from_an_onnx_repository_on_blender_52(session, hub):
    host, inside, info = session
    [run] = info["then"]
    assert run["online_access"] and run["result"] == ["FINISHED"], run
    result, sidecar = run["worker_result"], run["sidecar"]
    assert result["depth_model"] == DEPTH_REPO and result["depth_backend"] == "onnx", result
    assert sidecar["depth_model"] == DEPTH_REPO and sidecar["depth_backend"] == "onnx"
    assert result["depth_kind"] == "relative" and result["segmenter"] == "u2netp"
    assert run["depth_model_prop"] == DEPTH_REPO
    assert run["vertices"] > 1000 and run["object"].startswith("coffee")
    # downloaded from the imitation: the configs and the default variant's one network
    network = catalog.DEPTH_VARIANT_FILES[catalog.DEFAULT_DEPTH_VARIANT][0]
    others = {f for files in catalog.DEPTH_VARIANT_FILES.values() for f in files} - {network}
    assert len(hub.fetched(network)) == 1 and all(hub.fetched(o) == [] for o in others)
    assert len(hub.fetched("preprocessor_config.json")) == 1
    folder = os.path.join(host, "depth-models", DEPTH_REPO.replace("/", "--"))
    assert os.path.isfile(os.path.join(folder, network))
    # the worker (one process for both jobs) never imported torch or transformers
    probes = []
    for name in os.listdir(os.path.join(host, "probe")):
        with open(os.path.join(host, "probe", name)) as fh:
            probes.append(json.load(fh))
    assert len(probes) == 1, probes
    assert probes[0]["onnxruntime"] and probes[0]["imported"] == [], probes
    print(f"learned depth on Blender 5.2 / Python 3.13: {DEPTH_REPO} (tiny) downloaded and "
          f"run in {run['generate_s']} s; worker tried {probes[0]['tried']}, imported none")
