"""``img2mesh --download NAME``: a model into the models folder ahead of use (what the
add-on's Download buttons run), through the CLI and the warm worker."""

import json
import shutil

import pytest


def _result(proc):
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return events, [e for e in events if e["event"] == "result"]


def test_segmenter_already_in_the_models_folder(tmp_path, cli, u2netp_dir):
    shutil.copy(f"{u2netp_dir}/u2netp.onnx", tmp_path / "u2netp.onnx")
    proc = cli(["--download", "u2netp", "--models-dir", tmp_path, "--offline", "--json"])
    assert proc.returncode == 0, proc.stderr
    events, results = _result(proc)
    assert results[0]["kind"] == "segmenter"
    assert results[0]["path"] == str(tmp_path / "u2netp.onnx")
    assert [e["stage"] for e in events if e["event"] == "progress"] == ["model"]


def test_depth_model_by_hub_id_found_in_the_models_folder(tmp_path, cli, tiny_models):
    """``org/name`` is looked for as ``<models-dir>/org--name`` before any download."""
    shutil.copytree(tiny_models["glpn"], tmp_path / "someorg--tiny-glpn")
    proc = cli(["--download", "someorg/tiny-glpn", "--models-dir", tmp_path, "--offline",
                "--json"])
    assert proc.returncode == 0, proc.stderr
    _, results = _result(proc)
    assert results[0]["kind"] == "depth" and results[0]["hub_id"] == "someorg/tiny-glpn"
    assert results[0]["path"] == str(tmp_path / "someorg--tiny-glpn")


@pytest.mark.parametrize("name, what", [("glpn-nyu", "depth model"),
                                        ("sd-turbo", "text-to-image model"),
                                        ("u2net", "background-removal model")])
def test_offline_and_missing_is_one_clear_line(tmp_path, cli, name, what):
    proc = cli(["--download", name, "--models-dir", tmp_path, "--offline"])
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and f"{what} '{name}'" in lines[0]
    assert "not downloaded and downloads are off" in lines[0]
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_unreachable_hub_leaves_nothing(tmp_path, cli):
    proc = cli(["--download", "glpn-nyu", "--models-dir", tmp_path / "m"],
               env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    assert "cannot download depth model Xenova/glpn-nyu" in proc.stderr
    assert not (tmp_path / "m" / "Xenova--glpn-nyu").exists()
    assert not (tmp_path / "m" / "Xenova--glpn-nyu.partial").exists()


def test_download_takes_no_input(tmp_path, cli, photo):
    proc = cli([photo("coffee.png"), "--download", "u2netp"])
    assert proc.returncode == 2 and "--download gets a model and nothing else" in proc.stderr


def test_through_the_warm_worker(tmp_path, worker, u2netp_dir):
    shutil.copy(f"{u2netp_dir}/u2netp.onnx", tmp_path / "u2netp.onnx")
    request = {"id": "d1", "args": ["--download", "u2netp", "--models-dir", str(tmp_path),
                                    "--offline"]}
    proc = worker(json.dumps(request) + "\n")
    assert proc.returncode == 0, proc.stderr
    _, results = _result(proc)
    assert results and results[0]["id"] == "d1"
    assert results[0]["path"] == str(tmp_path / "u2netp.onnx")
