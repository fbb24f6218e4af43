"""The files the ONNX backend keeps (pipeline/depth/onnx_cache.py): the optimised network that
later sessions load (same output), a damaged one replaced, and the clean-up of other
versions, of models whose folder is gone, and of dead processes' temporary files."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from blender_img2mesh.pipeline.depth import (estimate as depth, prep as depth_prep, onnx_cache, onnx_run as onnx_depth)


@pytest.fixture
def glpn_copy(tmp_path, tiny_models):
    folder = tmp_path / "mine" / "glpn"
    shutil.copytree(tiny_models["glpn"], folder)
    return folder


def names(folder):
    return sorted(os.listdir(folder))


def session_file(est):
    return os.path.basename(est.session._model_path)


def test_sessions_load_the_optimised_network_with_the_same_output(tmp_path, glpn_copy):
    models = tmp_path / "models"
    est = depth.load_estimator(str(glpn_copy), "cpu", "onnx", str(models))
    optimised = onnx_cache.optimized_path(est.path)
    base = os.path.basename(est.path)[:-len(".onnx")]
    assert names(models / "onnx") == sorted(
        [base + ".onnx", os.path.basename(optimised), base + onnx_cache.SOURCE,
         base + ".onnx" + onnx_cache.RECORD]), \
        "the network, its optimised form, its source and record; no temporaries"
    assert session_file(est) == os.path.basename(optimised)
    assert (models / "onnx" / (base + onnx_cache.SOURCE)).read_text().strip() == \
        os.path.realpath(glpn_copy)
    x = depth_prep.preprocess(onnx_depth.check_image(96, 128), est.proc)
    plain = onnx_depth.session(est.path, ["CPUExecutionProvider"])
    assert os.path.basename(plain._model_path) == os.path.basename(est.path)
    want = plain.run(None, {est.input: x})[0]
    got = est.forward(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    mtime = os.stat(optimised).st_mtime_ns
    again = depth.load_estimator(str(glpn_copy), "cpu", "onnx", str(models))
    assert session_file(again) == os.path.basename(optimised)
    assert os.stat(optimised).st_mtime_ns == mtime, "made once, then reused"


def test_a_damaged_optimised_network_is_replaced(tmp_path, glpn_copy):
    models = tmp_path / "models"
    est = depth.load_estimator(str(glpn_copy), "cpu", "onnx", str(models))
    optimised = onnx_cache.optimized_path(est.path)
    with open(optimised, "r+b") as fh:  # cut short, as by a full disk
        fh.truncate(os.path.getsize(optimised) // 3)
    again = depth.load_estimator(str(glpn_copy), "cpu", "onnx", str(models))
    assert session_file(again) == os.path.basename(est.path), "the network itself"
    assert not os.path.exists(optimised)
    third = depth.load_estimator(str(glpn_copy), "cpu", "onnx", str(models))
    assert session_file(third) == os.path.basename(optimised), "made again"
    assert os.path.getsize(optimised) > 0


def _warnings(reporter):
    return [e["message"] for e in reporter.events if e["event"] == "warning"]


def _load(glpn_copy, models):
    from blender_img2mesh.pipeline.progress import Reporter

    reporter = Reporter()
    reporter.stage("model", "Loading")
    est = depth.load_estimator(str(glpn_copy), "cpu", "onnx", str(models), reporter)
    return est, _warnings(reporter)


@pytest.mark.parametrize("how", ["truncated", "garbage_same_size", "garbage_no_record"])
def test_a_damaged_exported_network_is_removed_and_exported_again_once(tmp_path, glpn_copy,
                                                                       how):
    """Issue 22: not only the optimised graph -- the exported .onnx itself, cut short
    (size), overwritten with the same size (hash, checked when the optimised graph is to
    be made) or damaged without a record (the load fails), is removed and exported
    again, with one warning; the run then uses ONNX Runtime as before."""
    models = tmp_path / "models"
    est, warned = _load(glpn_copy, models)
    assert warned == [] and os.path.isfile(est.path + onnx_cache.RECORD)
    x = depth_prep.preprocess(onnx_depth.check_image(96, 128), est.proc)
    want = est.forward(x)
    size = os.path.getsize(est.path)
    if how == "truncated":
        with open(est.path, "r+b") as fh:
            fh.truncate(size // 2)
    else:
        with open(est.path, "wb") as fh:
            fh.write(b"\x00garbage" * (size // 9) + b"\x00" * (size % 9))
        os.remove(onnx_cache.optimized_path(est.path))  # the network itself is loaded
        if how == "garbage_no_record":
            os.remove(est.path + onnx_cache.RECORD)
    again, warned = _load(glpn_copy, models)
    assert len(warned) == 1 and "damaged" in warned[0] and "exported again" in warned[0]
    assert again.backend == "onnx" and os.path.getsize(again.path) == size
    np.testing.assert_allclose(again.forward(x), want, rtol=1e-4,
                               atol=1e-4 * np.abs(want).max())
    third, warned = _load(glpn_copy, models)
    assert warned == []


def test_a_full_disk_during_the_export_is_not_remembered(tmp_path, glpn_copy, monkeypatch):
    import errno

    from blender_img2mesh.pipeline.depth import onnx_export
    from blender_img2mesh.pipeline.progress import Reporter

    real = onnx_export._export_to
    calls = []

    def full(model, x, tmp):
        calls.append(tmp)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(onnx_export, "_export_to", full)
    reporter = Reporter()
    reporter.stage("model", "Loading")
    est = depth.load_estimator(str(glpn_copy), "cpu", "auto", str(tmp_path / "m"), reporter)
    assert est.backend == "torch"
    (warning,) = _warnings(reporter)
    assert "No space left" in warning and "tries again" in warning
    path = onnx_depth.onnx_path(str(glpn_copy), str(tmp_path / "m"))
    assert not os.path.exists(path + onnx_depth.FAILED)
    monkeypatch.setattr(onnx_export, "_export_to", real)
    est = depth.load_estimator(str(glpn_copy), "cpu", "auto", str(tmp_path / "m"))
    assert est.backend == "onnx" and len(calls) == 1


def test_a_changed_model_replaces_its_old_files(tmp_path, tiny_models):
    models = tmp_path / "models"
    folder = models / "glpn"  # in the models folder: files beside it
    shutil.copytree(tiny_models["glpn"], folder)
    old = depth.load_estimator(str(folder), "cpu", "onnx", str(models)).path
    old_files = [n for n in names(models) if n.startswith("glpn.depth-")]
    assert len(old_files) == 3, old_files  # the network, its record, its optimised form
    config = json.loads((folder / "config.json").read_text())
    config["max_depth"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    new = depth.load_estimator(str(folder), "cpu", "onnx", str(models)).path
    assert new != old
    assert not set(old_files) & set(names(models)), "the old version's files are gone"
    assert len([n for n in names(models) if n.startswith("glpn.depth-")]) == 3


def test_networks_of_deleted_model_folders_go_at_the_next_export(tmp_path, tiny_models,
                                                                 glpn_copy):
    models = tmp_path / "models"
    gone = tmp_path / "temporary" / "glpn"
    shutil.copytree(tiny_models["glpn"], gone)
    first = depth.load_estimator(str(gone), "cpu", "onnx", str(models)).path
    first_base = os.path.basename(first)[:-len(".onnx")]
    shutil.rmtree(gone)
    depth.load_estimator(str(glpn_copy), "cpu", "onnx", str(models))
    left = names(models / "onnx")
    assert not [n for n in left if n.startswith(first_base)], left
    assert len(left) == 4  # network, record, optimised form, source


def test_prune_keeps_live_processes_and_the_current_runtime(tmp_path, glpn_copy):
    models = tmp_path / "models"
    est = depth.load_estimator(str(glpn_copy), "cpu", "onnx", str(models))
    folder = models / "onnx"
    base = os.path.basename(est.path)[:-len(".onnx")]
    other_runtime = folder / f"{base}.ort0.0.1-cpu.onnx"
    other_runtime.write_bytes(b"x")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        host = onnx_cache.tmp_name("x")[2:].rsplit("-", 1)[0]
        dead_tmp = folder / f"{base}.onnx.{host}-{dead}.tmp"
        live_tmp = folder / f"{base}.onnx.{host}-{sleeper.pid}.tmp"
        dead_tmp.write_bytes(b"x")
        live_tmp.write_bytes(b"x")
        unrelated = folder / "notes.txt"
        unrelated.write_text("mine")
        removed = onnx_cache.prune(str(folder))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(removed) == sorted([other_runtime.name, dead_tmp.name])
    assert live_tmp.exists() and unrelated.exists()
    assert os.path.exists(est.path) and os.path.exists(onnx_cache.optimized_path(est.path))
