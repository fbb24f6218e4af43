"""The ONNX Runtime depth backend (pipeline/depth/onnx_run.py, onnx_export.py, depth_prep.py):
the same depth as PyTorch on the same weights for GLPN, DPT, Depth Anything V2 and ZoeDepth
(tiny random models), one exported file for every photo size, the numpy processing equal
to transformers', the fallback to PyTorch (remembered), and a run that imports neither
torch nor transformers."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from blender_img2mesh.pipeline.depth import (convert, estimate as depth, prep as depth_prep, onnx_cache, onnx_run as onnx_depth, onnx_export)
from blender_img2mesh.pipeline.errors import Img2MeshError
from blender_img2mesh.pipeline.progress import Reporter

ARCHS = ["glpn", "dpt", "depth_anything", "depth_anything_metric", "zoedepth"]
#: three aspect ratios (height, width): landscape, portrait, square
SHAPES = [(120, 160), (160, 120), (128, 128)]
FAST = ["--max-size", "128", "--offline", "-q"]
PREPARING = "Preparing the depth model for this machine (once)"


@pytest.fixture(scope="module")
def lively_models(tiny_models, tmp_path_factory):
    """The tiny models with larger random weights: their output varies across the
    picture by about its own size (the default initialisation gives nearly constant
    maps, where any two backends would agree)."""
    root = tmp_path_factory.mktemp("lively")
    out = {}
    for name in ARCHS:
        model = depth.DepthEstimator(tiny_models[name], "cpu").model
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in model.parameters():
                if p.ndim > 1:
                    p.copy_(torch.randn(p.shape, generator=gen) / p[0].numel() ** 0.5)
        folder = root / name
        model.save_pretrained(folder)
        shutil.copy(os.path.join(tiny_models[name], "preprocessor_config.json"), folder)
        out[name] = str(folder)
    return out


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("onnx_models"))


def photo_at(photo, h, w):
    return np.asarray(Image.open(photo("astronaut.png")).convert("RGB").resize(
        (w, h), Image.LANCZOS))


def object_mask(h, w):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - h / 2) / (0.4 * h)) ** 2 + ((xx - w / 2) / (0.35 * w)) ** 2 < 1


def final_depth(est, rgb, mask):
    """Depth as run.py makes it from the model's output (relative or metric)."""
    raw, _ = est.predict(rgb)
    if est.kind == "relative":
        return convert.relative_to_depth(raw, mask, 120.0, 0.5), raw
    return np.maximum(raw, 1e-3), raw


# ---------------------------------------------------------------- exactness


@pytest.mark.parametrize("name", ARCHS)
def test_onnx_depth_equals_torch_depth(lively_models, onnx_dir, photo, name):
    folder = lively_models[name]
    reporter = Reporter()
    reporter.stage("model", "Loading")
    est = depth.load_estimator(folder, "cpu", "onnx", onnx_dir, reporter)
    ref = depth.DepthEstimator(folder, "cpu")
    assert isinstance(est, onnx_depth.OnnxDepthEstimator) and est.backend == "onnx"
    assert (est.model_type, est.kind) == (ref.model_type, ref.kind)
    assert PREPARING in [e.get("message") for e in reporter.events]
    assert not [e for e in reporter.events if e["event"] == "warning"]
    files = [f for f in os.listdir(os.path.join(onnx_dir, "onnx")) if f.startswith(name + "-")]
    base = os.path.basename(est.path)[:-len(".onnx")]
    assert sorted(files) == sorted([base + ".onnx", base + onnx_cache.SOURCE,
                                    base + ".onnx" + onnx_cache.RECORD, os.path.basename(
        onnx_cache.optimized_path(est.path))]), "one network per model, no temporaries left"
    inputs = set()
    for h, w in SHAPES:
        rgb, mask = photo_at(photo, h, w), object_mask(h, w)
        inputs.add(depth_prep.preprocess(rgb, est.proc).shape)
        got, raw = final_depth(est, rgb, mask)
        want, raw_want = final_depth(ref, rgb, mask)
        assert got.shape == (h, w) and np.isfinite(got).all()
        assert np.ptp(raw_want[mask]) > 0.05 * np.abs(raw_want[mask]).mean(), "flat output"
        rel = np.abs(got[mask] - want[mask]) / np.abs(want[mask])
        assert rel.max() <= 1e-3, f"{name} at {w}x{h}: max relative difference {rel.max()}"
    if name != "dpt":  # DPT's processor makes every picture 64 x 64; the others follow it
        assert len(inputs) == 3, f"one file ran three input sizes: {inputs}"


def test_second_load_reuses_the_file(lively_models, onnx_dir):
    folder = lively_models["glpn"]
    first = depth.load_estimator(folder, "cpu", "auto", onnx_dir)
    mtime = os.stat(first.path).st_mtime_ns
    reporter = Reporter()
    reporter.stage("model", "Loading")
    again = depth.load_estimator(folder, "cpu", "auto", onnx_dir, reporter)
    assert again.path == first.path and os.stat(again.path).st_mtime_ns == mtime
    assert PREPARING not in [e.get("message") for e in reporter.events]


# ---------------------------------------------------------------- numpy processing


@pytest.mark.parametrize("name", ["glpn", "dpt", "depth_anything", "zoedepth"])
def test_preprocessing_is_transformers(tiny_models, name):
    from transformers import AutoImageProcessor

    processor = AutoImageProcessor.from_pretrained(tiny_models[name])
    _, _, proc = depth_prep.read_config(tiny_models[name])
    rng = np.random.default_rng(3)
    for h, w in [(120, 160), (160, 120), (97, 97), (333, 517)]:
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        want = processor(images=rgb, return_tensors="np")["pixel_values"]
        got = depth_prep.preprocess(rgb, proc)
        assert got.shape == want.shape and got.dtype == np.float32
        if name == "zoedepth":  # torch's float32 interpolation against ours in float64
            assert np.abs(got - want).max() < 1e-4
        else:  # the same Pillow resize and the same arithmetic
            np.testing.assert_array_equal(got, want)


def test_dpt_resize_rule_keeps_aspect_with_multiples():
    proc = dict(depth_prep.DEFAULTS["DPTImageProcessor"], type="DPTImageProcessor",
                size={"height": 518, "width": 518}, keep_aspect_ratio=True,
                ensure_multiple_of=14)
    assert depth_prep.input_size(480, 640, proc) == (518, 686)
    assert depth_prep.input_size(640, 480, proc) == (686, 518)
    assert depth_prep.input_size(3, 4, proc) == (392, 518)  # fit the side nearer 518
    glpn = dict(depth_prep.DEFAULTS["GLPNImageProcessor"], type="GLPNImageProcessor")
    assert depth_prep.input_size(479, 641, glpn) == (448, 640)


@pytest.mark.parametrize("src,dst", [((37, 53), (120, 160)), ((64, 96), (48, 50)),
                                     ((20, 20), (20, 33))])
def test_bicubic_is_torch_interpolate(src, dst):
    img = np.random.default_rng(5).normal(size=src).astype(np.float32)
    want = torch.nn.functional.interpolate(torch.from_numpy(img)[None, None], dst,
                                           mode="bicubic", align_corners=False)[0, 0]
    np.testing.assert_allclose(depth_prep.bicubic(img, *dst), want.numpy(), atol=2e-5)


# ---------------------------------------------------------------- naming and fallback


def test_file_name_follows_model_opset_and_exporter(tmp_path, tiny_models, monkeypatch):
    folder = tmp_path / "models" / "glpn"
    shutil.copytree(tiny_models["glpn"], folder)
    base = onnx_depth.onnx_path(str(folder), str(tmp_path / "models"))
    assert os.path.dirname(base) == str(tmp_path / "models"), "beside the model"
    assert onnx_depth.onnx_path(str(folder), str(tmp_path / "elsewhere")).startswith(
        str(tmp_path / "elsewhere" / "onnx" / "glpn-"))
    monkeypatch.setattr(onnx_depth, "OPSET", onnx_depth.OPSET + 1)
    assert onnx_depth.onnx_path(str(folder), str(tmp_path / "models")) != base
    monkeypatch.undo()
    monkeypatch.setattr(onnx_depth, "exporter_version", lambda: "9.9.9")
    assert onnx_depth.onnx_path(str(folder), str(tmp_path / "models")) != base
    monkeypatch.undo()
    config = json.loads((folder / "config.json").read_text())
    config["max_depth"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    assert onnx_depth.onnx_path(str(folder), str(tmp_path / "models")) != base


def test_failed_export_falls_back_once_and_is_remembered(tmp_path, tiny_models,
                                                         astronaut_small, monkeypatch):
    calls = []

    def broken(model, x, tmp):
        calls.append(tmp)
        raise RuntimeError("this operator cannot be exported")

    monkeypatch.setattr(onnx_export, "_export_to", broken)
    for attempt in range(2):
        reporter = Reporter()
        reporter.stage("model", "Loading")
        est = depth.load_estimator(tiny_models["glpn"], "cpu", "auto", str(tmp_path), reporter)
        assert isinstance(est, depth.DepthEstimator) and est.backend == "torch"
        warnings = [e["message"] for e in reporter.events if e["event"] == "warning"]
        assert len(warnings) == 1 and "\n" not in warnings[0]
        assert "this operator cannot be exported" in warnings[0] and "PyTorch" in warnings[0]
    assert len(calls) == 1, "the failure was not remembered"
    marker = onnx_depth.onnx_path(tiny_models["glpn"], str(tmp_path)) + onnx_depth.FAILED
    assert os.path.isfile(marker) and not os.path.exists(marker[:-len(onnx_depth.FAILED)])
    assert not [f for f in os.listdir(os.path.dirname(marker)) if f.endswith(".tmp")]
    assert est.predict(astronaut_small)[0].shape == astronaut_small.shape[:2]
    with pytest.raises(Img2MeshError, match="could not be exported") as info:
        depth.load_estimator(tiny_models["glpn"], "cpu", "onnx", str(tmp_path))
    assert info.value.kind == "model"


def test_disagreeing_export_is_not_kept(tmp_path, lively_models, monkeypatch):
    real = onnx_export._torch_forward
    monkeypatch.setattr(onnx_export, "_torch_forward", lambda m, x: real(m, x) * 1.01)
    reporter = Reporter()
    reporter.stage("model", "Loading")
    est = depth.load_estimator(lively_models["depth_anything"], "cpu", "auto",
                               str(tmp_path), reporter)
    assert est.backend == "torch"
    path = onnx_depth.onnx_path(lively_models["depth_anything"], str(tmp_path))
    assert not os.path.exists(path) and "differs" in onnx_depth.failure(path)
    assert [e for e in reporter.events if e["event"] == "warning"]


def test_devices_and_unsupported_models(tmp_path, tiny_models, monkeypatch):
    assert onnx_depth.providers("cpu") == (["CPUExecutionProvider"], "cpu")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        assert onnx_depth.providers("cuda")[0] is None
        with pytest.raises(Img2MeshError, match="no provider for --device cuda"):
            depth.load_estimator(tiny_models["glpn"], "cuda", "onnx", str(tmp_path))
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CoreMLExecutionProvider", "CPUExecutionProvider"])
    assert onnx_depth.providers("mps")[0] == ["CoreMLExecutionProvider",
                                              "CPUExecutionProvider"]
    assert onnx_depth.providers("auto")[0] == ["CPUExecutionProvider"]  # CoreML: if asked
    folder = tmp_path / "pro"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "depth_pro"}))
    with pytest.raises(Img2MeshError, match="does not run this model"):
        depth.load_estimator(str(folder), "cpu", "onnx", str(tmp_path))


# ---------------------------------------------------------------- whole runs


def test_backend_in_result_and_sidecar(tmp_path, run_job, photo, lively_models):
    models_dir = tmp_path / "models"
    for backend, want in (("auto", "onnx"), ("torch", "torch"), ("onnx", "onnx")):
        out = tmp_path / f"{backend}.ply"
        result, events = run_job([photo("chelsea.png"), "-o", out, "--keep-background",
                                  "--depth-model", lively_models["glpn"], "--models-dir",
                                  models_dir, "--depth-backend", backend, *FAST])
        assert result["depth_backend"] == want
        sidecar = json.loads(out.with_suffix(".json").read_text())
        assert sidecar["depth_backend"] == want
        assert not [e for e in events if e["event"] == "warning"]


IMPORT_PROBE = """
import json, sys
from blender_img2mesh.pipeline.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
print("@@" + json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def test_onnx_run_imports_neither_torch_nor_transformers(tmp_path, lively_models, photo,
                                                         models_dir_with_u2netp):
    """A command-line run with the model already exported: the depth model on ONNX
    Runtime, u2netp's background removal, the mesh: no torch, no transformers."""
    folder = lively_models["depth_anything"]
    depth.load_estimator(folder, "cpu", "onnx", models_dir_with_u2netp)  # exported once
    out = tmp_path / "coffee.ply"
    argv = [photo("coffee.png"), "-o", out, "--depth-model", folder, "--models-dir",
            models_dir_with_u2netp, "--json", *FAST]
    proc = subprocess.run([sys.executable, "-c", IMPORT_PROBE, *map(str, argv)],
                          capture_output=True, text=True, timeout=300,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    probe = json.loads(proc.stderr.split("@@")[-1])
    assert probe["code"] == 0, proc.stderr[-2000:]
    assert probe["heavy"] == [], f"imported: {probe['heavy'][:10]}"
    result = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()][-1]
    assert result["event"] == "result" and result["depth_backend"] == "onnx"
    assert result["mask"] == "u2netp" and out.is_file()


def test_read_only_models_folder_keeps_pytorch(tmp_path, tiny_models, monkeypatch):
    monkeypatch.setattr(depth.os, "access", lambda path, mode: False)
    monkeypatch.setattr(onnx_export, "export", lambda *a: pytest.fail("export attempted"))
    reporter = Reporter()
    reporter.stage("model", "Loading")
    est = depth.load_estimator(tiny_models["glpn"], "cpu", "auto", str(tmp_path), reporter)
    assert est.backend == "torch"
    warnings = [e["message"] for e in reporter.events if e["event"] == "warning"]
    assert len(warnings) == 1 and "cannot write" in warnings[0]
    assert os.listdir(tmp_path) == []
