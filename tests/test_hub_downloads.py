"""The first download, for real: the command line runs huggingface_hub's own download code
against a local imitation of the Hub (tests/hub_server.py, the ``hub`` fixture) serving
tiny models built in the test -- success, offline use afterwards, a connection cut in the
middle of a file, an unknown repository, and progress that never goes backwards."""

import filecmp
import io
import os

import pytest

from blender_img2mesh.pipeline import models
from blender_img2mesh.pipeline.depth import onnx_cache
from blender_img2mesh.pipeline.progress import Reporter

FAST = ["--max-size", "64", "--poisson-depth", "6", "--keep-background"]


def _progress(events):
    return [e["fraction"] for e in events if e["event"] == "progress"]


def _assert_monotonic(fractions):
    assert fractions, "no progress events"
    drops = [(a, b) for a, b in zip(fractions, fractions[1:]) if b < a]
    assert not drops, f"progress went backwards: {drops}"


def _same_files(served, downloaded):
    """Every file the hub served is in the downloaded folder, byte for byte."""
    for root, _, names in os.walk(served):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), served)
            assert filecmp.cmp(os.path.join(served, rel), os.path.join(downloaded, rel),
                               shallow=False), rel


def _hub_cache_entries():
    """What the session's (isolated) Hugging Face cache holds of the tiny-org models."""
    cache = os.environ["HF_HUB_CACHE"]
    return [n for n in os.listdir(cache) if "tiny-org" in n] if os.path.isdir(cache) else []


def _error_lines(proc):
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def test_depth_model_download_then_offline_use(tmp_path, hub, cli, parse_json_lines,
                                               tiny_models, photo):
    hub.add("tiny-org/tiny-glpn", tiny_models["glpn"])
    m = tmp_path / "models"
    proc = cli(["--download", "tiny-org/tiny-glpn", "--models-dir", m, "--json"], env=hub.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = parse_json_lines(proc.stdout)
    result = [e for e in events if e["event"] == "result"][0]
    assert result["kind"] == "depth" and result["hub_id"] == "tiny-org/tiny-glpn"
    assert result["path"] == str(m / "tiny-org--tiny-glpn")
    _same_files(tiny_models["glpn"], result["path"])
    assert hub.fetched("model.safetensors"), "the weights did not come from the hub"
    _assert_monotonic(_progress(events))
    assert any("Downloading model" in e.get("message", "") for e in events)
    assert sorted(os.listdir(m)) == ["tiny-org--tiny-glpn"]  # no .partial left
    assert _hub_cache_entries() == []  # the user's HF cache is not touched

    # offline afterwards: found in the models folder, and a real run uses it
    hub.requests.clear()
    proc = cli(["--download", "tiny-org/tiny-glpn", "--models-dir", m, "--offline", "--json"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "cat.ply"
    proc = cli([photo("chelsea.png"), "-o", out, "--depth-model", "tiny-org/tiny-glpn",
                "--models-dir", m, "--offline", *FAST])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.getsize(out) > 0 and hub.requests == []


def test_run_downloads_its_depth_model_on_first_use(tmp_path, hub, cli, parse_json_lines,
                                                    tiny_models, photo):
    hub.add("tiny-org/tiny-depth-anything", tiny_models["depth_anything"])
    m, out = tmp_path / "models", tmp_path / "cat.ply"
    proc = cli([photo("chelsea.png"), "-o", out, "--depth-model",
                "tiny-org/tiny-depth-anything", "--models-dir", m, "--json", *FAST],
               env=hub.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = parse_json_lines(proc.stdout)
    _assert_monotonic(_progress(events))
    result = [e for e in events if e["event"] == "result"][0]
    assert result["depth_kind"] == "relative" and os.path.getsize(out) > 0
    _same_files(tiny_models["depth_anything"], m / "tiny-org--tiny-depth-anything")
    # the model's folder, its ONNX Runtime export made on first use (--depth-backend
    # auto), the export's size-and-hash record and its optimised graph, nothing else: no
    # .partial folder
    names = sorted(os.listdir(m))
    assert names[0] == "tiny-org--tiny-depth-anything" and len(names) == 4, names
    assert names[1].startswith("tiny-org--tiny-depth-anything.depth-") and \
        names[1].endswith(".onnx") and result["depth_backend"] == "onnx"
    assert names[2] == names[1] + onnx_cache.RECORD
    assert names[3] == os.path.basename(onnx_cache.optimized_path(str(m / names[1])))


def test_text_to_image_model_download_then_offline_use(tmp_path, hub, cli,
                                                       parse_json_lines, tiny_t2i):
    """No fp16 files in the tiny pipeline: the first pass gets configs and tokenizer, the
    second the full-precision weights of each component."""
    hub.add("tiny-org/tiny-sd-turbo", tiny_t2i)
    m = tmp_path / "models"
    args = ["--prompt", "a red mug", "--t2i-model", "tiny-org/tiny-sd-turbo", "--seed", "3",
            "--depth-model", "inflate", "--models-dir", m, "--json", *FAST]
    proc = cli([*args, "-o", tmp_path / "a.ply"], env=hub.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = parse_json_lines(proc.stdout)
    _assert_monotonic(_progress(events))
    folder = m / "tiny-org--tiny-sd-turbo"
    _same_files(tiny_t2i, folder)
    assert {r.split("/")[0] for r in _weights(hub)} >= {"unet", "vae", "text_encoder"}
    assert sorted(os.listdir(m)) == ["tiny-org--tiny-sd-turbo"]

    hub.requests.clear()
    proc = cli([*args, "-o", tmp_path / "b.ply", "--offline"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert hub.requests == []
    with open(tmp_path / "a_image.png", "rb") as a, open(tmp_path / "b_image.png", "rb") as b:
        assert a.read() == b.read()  # same model, same seed: the same picture


def _weights(hub):
    return [p.split("/resolve/", 1)[1].split("/", 1)[1] for m, p, _ in hub.requests
            if m == "GET" and p.endswith(".safetensors")]


def test_connection_cut_mid_file_then_a_second_run(tmp_path, hub, cli, parse_json_lines,
                                                   tiny_models):
    hub.add("tiny-org/tiny-glpn", tiny_models["glpn"])
    hub.fault("model.safetensors", "cut")  # every time: huggingface_hub's retries fail too
    m = tmp_path / "models"
    proc = cli(["--download", "tiny-org/tiny-glpn", "--models-dir", m], env=hub.env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = _error_lines(proc)
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "cannot download depth model tiny-org/tiny-glpn" in lines[0]
    assert "connection broke off" in lines[0] and "model.safetensors" in lines[0]
    assert "Traceback" not in proc.stderr
    assert len(hub.fetched("model.safetensors")) > 1  # it did try again before giving up
    assert not m.exists() or list(m.iterdir()) == []  # no partial folder, nothing
    assert _hub_cache_entries() == []

    hub.clear_faults()
    proc = cli(["--download", "tiny-org/tiny-glpn", "--models-dir", m, "--json"], env=hub.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _same_files(tiny_models["glpn"], m / "tiny-org--tiny-glpn")
    assert sorted(os.listdir(m)) == ["tiny-org--tiny-glpn"]


def test_one_cut_is_retried_within_the_run(tmp_path, hub, cli, tiny_models):
    hub.add("tiny-org/tiny-glpn", tiny_models["glpn"])
    hub.fault("model.safetensors", "cut", times=1)
    m = tmp_path / "models"
    proc = cli(["--download", "tiny-org/tiny-glpn", "--models-dir", m], env=hub.env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(hub.fetched("model.safetensors")) == 2
    _same_files(tiny_models["glpn"], m / "tiny-org--tiny-glpn")


def test_unknown_repository_is_one_clear_line(tmp_path, hub, cli, parse_json_lines):
    m = tmp_path / "models"
    proc = cli(["--download", "tiny-org/no-such-model", "--models-dir", m, "--json"],
               env=hub.env)
    assert proc.returncode == 2
    errors = [e for e in parse_json_lines(proc.stdout) if e["event"] == "error"]
    assert len(errors) == 1 and errors[0]["kind"] == "model"
    assert "tiny-org/no-such-model" in errors[0]["message"]
    assert "has no such model" in errors[0]["message"]
    assert not m.exists() or list(m.iterdir()) == []


def test_a_file_missing_on_the_hub(tmp_path, hub, cli, tiny_models):
    hub.add("tiny-org/tiny-glpn", tiny_models["glpn"])
    hub.fault("model.safetensors", "404")
    m = tmp_path / "models"
    proc = cli(["--download", "tiny-org/tiny-glpn", "--models-dir", m], env=hub.env)
    assert proc.returncode == 2
    lines = _error_lines(proc)
    assert len(lines) == 1 and "cannot download depth model tiny-org/tiny-glpn" in lines[0]
    assert "missing on the Hugging Face Hub" in lines[0]
    assert not m.exists() or list(m.iterdir()) == []


def test_an_incomplete_folder_in_the_way(tmp_path, hub, cli, tiny_models):
    """A folder by the model's name without its config: not overwritten, not merged."""
    hub.add("tiny-org/tiny-glpn", tiny_models["glpn"])
    folder = tmp_path / "models" / "tiny-org--tiny-glpn"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    proc = cli(["--download", "tiny-org/tiny-glpn", "--models-dir", folder.parent],
               env=hub.env)
    assert proc.returncode == 2
    lines = _error_lines(proc)
    assert len(lines) == 1 and "holds no complete model" in lines[0]
    assert os.listdir(folder.parent) == [folder.name] and os.listdir(folder) == ["notes.txt"]


# ---------------------------------------------------------------- progress, in-process


def test_reporter_never_goes_backwards():
    r = Reporter()
    r.stage("model", "Getting x")
    for f in (0.5, 0.2, 0.7, 0.0, 1.0):
        r.update(f)
    r.stage("segment", "Masking")
    _assert_monotonic(_progress(r.events))
    assert [e["stage_fraction"] for e in r.events[1:6]] == [0.5, 0.2, 0.7, 0.0, 1.0]


def test_download_progress_with_a_growing_total():
    """snapshot_download's byte bars: the total grows as each file starts (and there are
    two bars, received and written); the fractions reported never drop."""
    seen = []
    bar_class = models._progress_tqdm(lambda fraction, message: seen.append(fraction))
    received = bar_class(total=0, unit="B", file=io.StringIO())
    written = bar_class(total=0, unit="B", file=io.StringIO())
    for total, n in ((100, 60), (1000, 30), (1000, 500)):
        received.total = written.total = total
        received.update(n)
        written.update(n // 2)
    _assert_monotonic(seen)
    assert seen[0] == 0.6 and seen[-1] == pytest.approx(0.6)


@pytest.mark.parametrize("name, expected", [
    ("glpn-nyu", "Xenova--glpn-nyu"), ("zoedepth-nyu-kitti", "Intel--zoedepth-nyu-kitti"),
    ("sd-turbo", "stabilityai--sd-turbo"),
    ("tiny-org/x", "tiny-org--x"), ("u2netp", "u2netp"), ("./folder/x", None)])
def test_download_folder(tmp_path, name, expected):
    got = models.download_folder(name, str(tmp_path))
    assert got == (None if expected is None else str(tmp_path / expected))
