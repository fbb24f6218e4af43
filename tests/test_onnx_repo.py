"""Depth from a ready ONNX repository (pipeline/depth/onnx_repo.py): a tiny Depth Anything V2
repository in the Hub's layout (tests/tiny_onnx_repo.py) served by the local imitation of
the Hub under the real repository id, downloaded by the real code (one network, the two
configs), run, and compared with PyTorch on the same weights; another variant joining the
folder; offline and damaged downloads; and whole jobs -- command line and warm worker --
with torch, transformers and diffusers made unimportable."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from blender_img2mesh.pipeline import catalog
from blender_img2mesh.pipeline.command import checks
from blender_img2mesh.pipeline.depth import convert, estimate, onnx_repo, onnx_run
from blender_img2mesh.pipeline.errors import Img2MeshError, ModelUnavailable

REPO_ID = catalog.DEPTH_ONNX_REPOS["depth-anything-v2-small"]
FOLDER = REPO_ID.replace("/", "--")
FAST = ["--max-size", "96", "--keep-background", "--poisson-depth", "6"]
#: a job on the default model, by its alias
JOB = ["--depth-model", "depth-anything-v2-small"]


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory):
    """(repo folder, transformers folder of the same weights)."""
    from tiny_onnx_repo import build

    return build(str(tmp_path_factory.mktemp("tiny_onnx")))


def _files(folder):
    """The model's own files under ``folder`` (not huggingface_hub's .cache metadata)."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".cache"]
        out += [os.path.relpath(os.path.join(root, n), folder).replace(os.sep, "/")
                for n in names]
    return sorted(out)


def _result(events):
    return [e for e in events if e["event"] == "result"][0]


def _error_lines(proc):
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def _photo(photo, h=180, w=240):
    return np.asarray(Image.open(photo("astronaut.png")).convert("RGB").resize(
        (w, h), Image.LANCZOS))


def _mask(h, w):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - h / 2) / (0.4 * h)) ** 2 + ((xx - w / 2) / (0.35 * w)) ** 2 < 1


# ---------------------------------------------------------------- download and run


def test_download_gets_one_network_and_runs(tmp_path, hub, cli, parse_json_lines, tiny_repo,
                                            photo):
    repo, _ = tiny_repo
    hub.add(REPO_ID, repo)
    m, out = tmp_path / "models", tmp_path / "cat.ply"
    proc = cli([photo("chelsea.png"), "-o", out, *JOB, "--depth-variant", "fp32",
                "--models-dir", m, "--json", *FAST], env=hub.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = parse_json_lines(proc.stdout)
    result = _result(events)
    assert result["depth_model"] == REPO_ID and result["depth_backend"] == "onnx"
    assert result["depth_kind"] == "relative" and os.path.getsize(out) > 0
    fractions = [e["fraction"] for e in events if e["event"] == "progress"]
    assert fractions and fractions == sorted(fractions), "progress went backwards"
    assert any("Downloading model" in e.get("message", "") for e in events)
    # the two configs and the fp32 network, nothing else (+ onnxruntime's optimised graph)
    got = _files(m / FOLDER)
    assert [f for f in got if ".ort" not in f] == [
        "config.json", "onnx/model.onnx", "preprocessor_config.json"]
    assert hub.fetched("onnx/model_fp16.onnx") == hub.fetched("onnx/model_int8.onnx") == []
    assert sorted(os.listdir(m)) == [FOLDER]  # no .partial left

    # another variant joins the same folder; only its network is fetched
    hub.requests.clear()
    proc = cli([photo("chelsea.png"), "-o", tmp_path / "b.ply", *JOB, "--depth-variant",
                "int8", "--models-dir", m, "--json", *FAST], env=hub.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(hub.fetched("onnx/model_int8.onnx")) == 1
    assert hub.fetched("onnx/model.onnx") == hub.fetched("*.json") == []
    assert "onnx/model_int8.onnx" in _files(m / FOLDER) and sorted(os.listdir(m)) == [FOLDER]

    # offline afterwards: both found, no request
    hub.requests.clear()
    for variant in ("fp32", "int8"):
        proc = cli([photo("chelsea.png"), "-o", tmp_path / f"{variant}.ply", *JOB,
                    "--depth-variant", variant, "--models-dir", m, "--offline", *FAST])
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert hub.requests == []


def test_repository_depth_equals_pytorch_and_the_export(tmp_path, tiny_repo, photo):
    """The repository's networks through the pipeline's numpy processing against the
    transformers model on PyTorch (same weights): fp32 within 1e-3, fp16 close; and the
    fp32 repository equals the local export of the transformers folder within 1e-3."""
    repo, source = tiny_repo
    torch_est = estimate.DepthEstimator(source, "cpu")
    exported = estimate.load_estimator(source, "cpu", "onnx", str(tmp_path / "m"))
    assert exported.backend == "onnx"
    for h, w in ((180, 240), (240, 180)):
        rgb = _photo(photo, h, w)
        want, _ = torch_est.predict(rgb)
        scale = float(np.abs(want).max())
        assert float(want.std()) > 0.05 * scale, "a lively map, not a flat one"
        ours, _ = exported.predict(rgb)
        for variant, tol in (("fp32", 1e-3), ("fp16", 3e-2)):
            est = onnx_repo.load(repo, onnx_repo.network(repo, variant), "cpu",
                                 keep_optimized=False)
            got, fov = est.predict(rgb)
            assert got.shape == (h, w) and fov is None and est.kind == "relative"
            err = float(np.abs(got - want).max()) / scale
            assert err <= tol, f"{variant} differs from PyTorch by {err:.3g}"
            if variant == "fp32":
                assert float(np.abs(got - ours).max()) / scale <= 1e-3
        # int8: random weights make its agreement meaningless; its depth still follows
        est = onnx_repo.load(repo, onnx_repo.network(repo, "int8"), "cpu",
                             keep_optimized=False)
        got, _ = est.predict(rgb)
        mask = _mask(h, w)
        a = convert.relative_to_depth(got, mask, 200.0, 0.5)[mask]
        b = convert.relative_to_depth(want, mask, 200.0, 0.5)[mask]
        assert np.corrcoef(a, b)[0, 1] > 0.9


def test_float16_inputs_are_cast(tmp_path, tiny_repo):
    """A float16 network whose input is float16 too (not what onnx-community ships, but
    allowed): the pixels are cast, the output comes back float32."""
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    repo, _ = tiny_repo
    folder = tmp_path / "repo16"
    (folder / "onnx").mkdir(parents=True)
    for name in onnx_repo.CONFIGS:
        (folder / name).write_bytes(open(os.path.join(repo, name), "rb").read())
    model = convert_float_to_float16(onnx.load(os.path.join(repo, "onnx", "model.onnx")),
                                     keep_io_types=False,
                                     op_block_list=[*DEFAULT_OP_BLOCK_LIST, "Pow"])
    onnx.save(model, str(folder / "onnx" / "model_fp16.onnx"))
    est = onnx_repo.load(str(folder), onnx_repo.network(str(folder), "fp16"), "cpu",
                         keep_optimized=False)
    assert est.dtype == np.float16
    ref = onnx_repo.load(repo, onnx_repo.network(repo, "fp32"), "cpu", keep_optimized=False)
    rgb = onnx_run.check_image(120, 160)
    got, want = est.predict(rgb)[0], ref.predict(rgb)[0]
    assert got.dtype == np.float32
    assert float(np.abs(got - want).max()) <= 0.05 * float(np.abs(want).max())


# ---------------------------------------------------------------- offline, damage, folders


def test_offline_without_it(tmp_path, cli, parse_json_lines, photo):
    m, out = tmp_path / "models", tmp_path / "cat.ply"
    proc = cli([photo("chelsea.png"), "-o", out, *JOB, "--models-dir", m, "--offline",
                *FAST])
    assert proc.returncode == 2 and not out.exists()
    lines = _error_lines(proc)
    assert len(lines) == 1 and REPO_ID in lines[0] and "downloads are off" in lines[0]
    assert str(m / FOLDER) in lines[0] and "Traceback" not in proc.stderr
    # --depth-model auto: silhouette inflation instead, with a warning naming the model
    proc = cli([photo("chelsea.png"), "-o", out, "--models-dir", m, "--offline", "--json",
                *FAST])
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = parse_json_lines(proc.stdout)
    assert _result(events)["depth_model"] == "inflate"
    assert any(REPO_ID in e.get("message", "") for e in events if e["event"] == "warning")
    assert not m.exists() or list(m.iterdir()) == []


@pytest.mark.parametrize("damage", ["cut", "404"])
def test_damaged_download_leaves_nothing(tmp_path, hub, cli, tiny_repo, damage):
    repo, _ = tiny_repo
    hub.add(REPO_ID, repo)
    m = tmp_path / "models"
    hub.fault("onnx/model.onnx", damage)
    proc = cli(["--download", "depth-anything-v2-small", "--depth-variant", "fp32",
                "--models-dir", m], env=hub.env)
    assert proc.returncode == 2
    lines = _error_lines(proc)
    assert len(lines) == 1 and f"cannot download depth model {REPO_ID}" in lines[0]
    assert ("connection broke off" if damage == "cut" else "missing") in lines[0]
    assert not m.exists() or list(m.iterdir()) == []

    # a complete folder (fp32) and a damaged second variant: the folder stays as it was
    hub.clear_faults()
    proc = cli(["--download", "depth-anything-v2-small", "--depth-variant", "fp32",
                "--models-dir", m], env=hub.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before = _files(m / FOLDER)
    hub.fault("onnx/model_int8.onnx", damage)
    proc = cli(["--download", "depth-anything-v2-small", "--depth-variant", "int8",
                "--models-dir", m], env=hub.env)
    assert proc.returncode == 2 and len(_error_lines(proc)) == 1
    assert _files(m / FOLDER) == before and sorted(os.listdir(m)) == [FOLDER]


def test_found_in_the_hub_cache_and_left_alone(tmp_path, hub, tiny_repo, monkeypatch,
                                               run_job, photo):
    """A repository in the Hugging Face cache is used offline as it is: nothing of ours
    (no optimised graph) is written into the cache's snapshot."""
    from huggingface_hub import constants, snapshot_download

    repo, _ = tiny_repo
    hub.add(REPO_ID, repo)
    hub.in_process()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    snap = snapshot_download(REPO_ID, allow_patterns=onnx_repo.CONFIGS + ["onnx/model.onnx"])
    before = sorted(os.listdir(os.path.join(snap, "onnx")))
    m = tmp_path / "models"
    folder, hub_id, net = onnx_repo.locate("depth-anything-v2-small", str(m), False,
                                           variant="fp32")
    assert (folder, hub_id) == (snap, REPO_ID) and onnx_repo.in_hub_cache(folder)
    assert net == os.path.join(snap, "onnx", "model.onnx")
    hub.requests.clear()
    result, _ = run_job([photo("chelsea.png"), "-o", tmp_path / "a.ply", *JOB,
                         "--depth-variant", "fp32", "--models-dir", m, "--offline", *FAST])
    assert result["depth_model"] == REPO_ID and hub.requests == []
    assert sorted(os.listdir(os.path.join(snap, "onnx"))) == before
    assert not m.exists() or list(m.iterdir()) == []


def test_a_repository_folder_by_path(tmp_path, cli, tiny_repo, photo):
    repo, _ = tiny_repo
    folder = tmp_path / "mine"
    (folder / "onnx").mkdir(parents=True)
    for name in onnx_repo.CONFIGS:
        (folder / name).write_bytes(open(os.path.join(repo, name), "rb").read())
    (folder / "onnx" / "model_int8.onnx").write_bytes(
        open(os.path.join(repo, "onnx", "model_int8.onnx"), "rb").read())
    args = argparse_like(depth_model=str(folder))
    checks.model_folders(args)  # an ONNX repository's folder passes the up-front check
    stale = folder / "onnx" / "model_int8.ort0.9.0-cpu.onnx"  # an older onnxruntime's
    stale.write_bytes(b"old")
    out = tmp_path / "a.ply"
    proc = cli([photo("chelsea.png"), "-o", out, "--depth-model", folder, "--depth-variant",
                "int8", "--offline", *FAST])
    assert proc.returncode == 0, proc.stderr[-2000:]
    import onnxruntime

    assert sorted(os.listdir(folder / "onnx")) == [
        "model_int8.onnx", f"model_int8.ort{onnxruntime.__version__}-cpu.onnx"]
    proc = cli([photo("chelsea.png"), "-o", tmp_path / "b.ply", "--depth-model", folder,
                "--depth-variant", "fp16", "--offline", *FAST])
    assert proc.returncode == 2
    lines = _error_lines(proc)
    assert len(lines) == 1 and "no fp16 network" in lines[0] and "model_int8.onnx" in lines[0]
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text("{}")
    with pytest.raises(Img2MeshError, match="no .safetensors weights or onnx"):
        checks.model_folders(argparse_like(depth_model=str(bare)))


def argparse_like(**kw):
    class A:
        depth_map = None
        prompt = None
        t2i_model = None
    a = A()
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def test_catalog_says_which_path_each_model_takes():
    for alias in catalog.DEPTH_MODELS:
        path = catalog.depth_path(alias)
        assert path == ("onnx repo" if alias in catalog.DEPTH_ONNX_REPOS
                        else "local export, needs torch")
    assert set(catalog.DEPTH_ONNX_REPOS) < set(catalog.DEPTH_MODELS)
    assert catalog.depth_path(catalog.DEFAULT_DEPTH_MODEL) == "onnx repo"
    assert catalog.DEFAULT_DEPTH_VARIANT in catalog.DEPTH_VARIANT_FILES


def test_locate_prefers_what_is_on_disk(tmp_path, tiny_repo, monkeypatch):
    """Nothing downloaded: offline is ModelUnavailable naming the ONNX repository; with
    torch asked for, the transformers model instead."""
    m = str(tmp_path)
    with pytest.raises(ModelUnavailable, match=REPO_ID):
        onnx_repo.locate("depth-anything-v2-small", m, False)
    with pytest.raises(ModelUnavailable, match="Depth-Anything-V2-Small-hf"):
        onnx_repo.locate("depth-anything-v2-small", m, False, backend="torch")
    monkeypatch.setattr(onnx_repo, "torch_installed", lambda: False)
    with pytest.raises(Img2MeshError, match="needs PyTorch.*pip install torch transformers"):
        onnx_repo.locate("zoedepth-nyu-kitti", m, True)
    with pytest.raises(Img2MeshError, match="needs PyTorch"):
        onnx_repo.locate("depth-anything-v2-small", m, True, backend="export")
    with pytest.raises(Img2MeshError, match="unknown depth model"):  # not "needs PyTorch"
        onnx_repo.locate("depth-anything-v9-huge", m, True)


# ---------------------------------------------------------------- no torch at all

#: runs a module as __main__ with torch, transformers and diffusers unimportable (as if
#: not installed), then reports what of them got into sys.modules
NO_TORCH = """
import importlib.abc, runpy, sys, json
FORBIDDEN = ("torch", "transformers", "diffusers")
class Forbid(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (forbidden)", name=name)
        return None
sys.meta_path.insert(0, Forbid())
module = sys.argv.pop(1)
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
finally:
    print("MODULES " + json.dumps(sorted(m for m in sys.modules
                                         if m.split(".")[0] in FORBIDDEN)), file=sys.stderr)
"""


def _no_torch(tmp_path, module, argv, stdin=None, env=None):
    full = dict(os.environ, **(env or {}))
    full.pop("U2NET_HOME", None)
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, module, *map(str, argv)],
                          input=stdin, capture_output=True, text=True, timeout=300, env=full,
                          cwd=str(tmp_path))
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES ")][-1]
    return proc, json.loads(line[len("MODULES "):])


def test_jobs_without_torch(tmp_path, hub, tiny_repo, models_dir_with_u2netp, photo,
                            parse_json_lines):
    """Command line: download + job with background removal; the worker: a depth job;
    a model with no ONNX repository: one clear error naming what to install."""
    repo, _ = tiny_repo
    hub.add(REPO_ID, repo)
    m, out = models_dir_with_u2netp, tmp_path / "cat.ply"
    env = {**hub.env, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))}
    proc, loaded = _no_torch(tmp_path, "blender_img2mesh", [
        photo("chelsea.png"), "-o", out, *JOB, "--models-dir", m, "--json",
        "--max-size", "96", "--poisson-depth", "6"], env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert loaded == [] and out.stat().st_size > 1000
    result = _result(parse_json_lines(proc.stdout))
    assert result["depth_model"] == REPO_ID and result["segmenter"] == "u2netp"

    request = {"id": "j1", "args": [photo("coffee.png"), "-o", str(tmp_path / "cup.ply"),
                                    *JOB, "--models-dir", m, "--offline", "--max-size", "96"]}
    proc, loaded = _no_torch(tmp_path, "blender_img2mesh.pipeline.worker", [],
                             stdin=json.dumps(request) + "\n", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = parse_json_lines(proc.stdout)
    assert [e for e in events if e["event"] == "result"], proc.stdout[-2000:]
    assert loaded == []

    proc, loaded = _no_torch(tmp_path, "blender_img2mesh", [
        photo("chelsea.png"), "-o", tmp_path / "z.ply", "--depth-model",
        "depth-anything-v2-metric-indoor-small", "--models-dir", m, *FAST], env=env)
    assert proc.returncode == 2 and loaded == []
    lines = _error_lines(proc)
    assert len(lines) == 1 and "needs PyTorch" in lines[0]
    assert "pip install torch transformers" in lines[0] and "Traceback" not in proc.stderr

    # the text prompt: refused up front, nothing downloaded
    hub.requests.clear()
    proc, loaded = _no_torch(tmp_path, "blender_img2mesh", [
        "--prompt", "a red mug", "-o", tmp_path / "mug.ply", "--models-dir", m, *FAST],
        env=env)
    assert proc.returncode == 2 and loaded == []
    lines = _error_lines(proc)
    assert len(lines) == 1 and "--prompt (text to image) needs torch, diffusers" in lines[0]
    assert "pip install torch diffusers transformers" in lines[0]
    assert hub.requests == []


def test_views_without_the_multiview_part_is_one_clear_error(tmp_path, photo):
    """The add-on's light install has no torch (nor pycolmap/xatlas): --views is refused up
    front, naming what to install, before any photo is read."""
    photos = [photo(n) for n in ("coffee.png", "chelsea.png", "astronaut.png")]
    env = {"PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    proc, loaded = _no_torch(tmp_path, "blender_img2mesh", [
        "--views", *photos, "-o", tmp_path / "obj.glb"], env=env)
    assert proc.returncode == 2 and loaded == []
    lines = _error_lines(proc)
    assert len(lines) == 1 and "--views (one object from several photos) needs" in lines[0]
    assert "torch" in lines[0] and "pip install pycolmap xatlas torch" in lines[0]
    assert not (tmp_path / "obj.glb").exists() and "Traceback" not in proc.stderr
