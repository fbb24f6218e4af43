"""Arguments are checked before any work: a bad one is one ``error:`` line naming the
option (exit 2) -- or an ``error`` event with ``--json`` -- and nothing is written.  Model
folders and ``--device`` are looked at before torch is imported; depth maps that hold no
depth are refused naming the file."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO


@pytest.fixture
def place(tmp_path, photo):
    """(input folder with cat.png, output folder holding keep.txt)."""
    src = tmp_path / "in"
    src.mkdir()
    Image.open(photo("chelsea.png")).convert("RGB").resize((96, 64)).save(src / "cat.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("not ours\n")
    return src, out


def _fast(src, out, *extra):
    return [src / "cat.png", "-o", out / "cat.ply", "--keep-background", "--depth-model",
            "inflate", "--max-size", "64", "-q", *extra]


def _one_error(result, out_dir, *named):
    code, stdout, stderr = result
    assert code == 2, (code, stderr)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    for name in named:
        assert str(name) in lines[0], f"{name} not named in: {lines[0]}"
    assert stdout == ""
    assert os.listdir(out_dir) == ["keep.txt"]
    return lines[0]


NUMBERS = [
    (["--size", "nan"], "--size"), (["--size", "inf"], "--size"),
    (["--size", "1e-30"], "--size"), (["--size", "1e30"], "--size"),
    (["--size", "-2"], "--size"), (["--fov", "nan"], "--fov"), (["--fov", "1e999"], "--fov"),
    (["--thickness", "1e-9"], "--thickness"), (["--thickness", "-inf"], "--thickness"),
    (["--depth-scale", "0"], "--depth-scale"), (["--depth-scale", "nan"], "--depth-scale"),
    (["--guidance", "nan"], "--guidance"), (["--guidance", "51"], "--guidance"),
    (["--steps", "0"], "--steps"), (["--seed", "-1"], "--seed"),
    (["--seed", str(2 ** 63)], "--seed"), (["--seed", "1" + "0" * 400], "--seed"),
    (["--target-faces", "-" + "9" * 400], "--target-faces"), (["--max-size", "31"], "--max-size"),
    (["--max-size", "100000"], "--max-size"), (["--max-size", "1e3"], "--max-size"),
    (["--target-faces", "3"], "--target-faces"), (["--poisson-depth", "13"], "--poisson-depth"),
    (["--image-size", "7x7"], "--image-size"), (["--no-such-option"], "--no-such-option"),
    (["--back", "round"], "--back"), (["--fov"], "--fov"),
]


@pytest.mark.parametrize("extra, option", NUMBERS, ids=[" ".join(a) for a, _ in NUMBERS])
def test_bad_number_is_one_line_naming_the_option(place, cli_in_process, extra, option):
    src, out = place
    line = _one_error(cli_in_process(_fast(src, out, *extra)), out, option)
    assert "usage:" not in line


def test_range_is_in_the_message(place, cli_in_process):
    src, out = place
    line = _one_error(cli_in_process(_fast(src, out, "--size", "1e-30")), out, "--size")
    assert "0.0001" in line and "10000" in line and "1e-30" in line


def test_extreme_sizes_in_range_work(place, cli_in_process):
    src, out = place
    for size in ("0.0001", "10000"):
        code, _, err = cli_in_process(_fast(src, out, "--size", size, "--json"))
        assert code == 0, err
        lo, hi = json.loads((out / "cat.json").read_text())["bounds"]
        assert max(b - a for a, b in zip(lo, hi)) == pytest.approx(float(size), rel=1e-4)


@pytest.mark.parametrize("flag", ["--json", "--js"])
def test_argument_error_with_json_is_an_error_event(place, cli_in_process, flag):
    src, out = place
    code, stdout, stderr = cli_in_process(_fast(src, out, "--size", "nan", flag))
    assert code == 2 and stderr == ""
    events = [json.loads(ln) for ln in stdout.splitlines()]
    assert [e["event"] for e in events] == ["start", "error"]
    assert "--size" in events[1]["message"] and events[1]["kind"] == "input"
    assert os.listdir(out) == ["keep.txt"]


def test_real_command_line_argument_error(place, cli):
    src, out = place
    proc = cli(_fast(src, out, "--fov", "abc"))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: argument --fov: invalid float value: 'abc': see img2mesh --help"]
    assert proc.stdout == "" and os.listdir(out) == ["keep.txt"]
    helped = cli(["--help"])
    assert helped.returncode == 0 and helped.stdout.startswith("usage: img2mesh")


# ---------------------------------------------------------------- input arrays


DEPTHS = {
    "empty": np.zeros((0, 0), np.float32),
    "flat_empty": np.zeros((0,), np.float32),
    "one_value": np.ones((1, 1), np.float32),
    "all_nan": np.full((64, 96), np.nan, np.float32),
    "all_inf": np.full((64, 96), np.inf, np.float32),
    "all_zero": np.zeros((64, 96), np.float32),
    "all_negative": -np.ones((64, 96), np.float32),
}


@pytest.mark.parametrize("name", sorted(DEPTHS))
def test_depth_map_without_depth_names_the_file(place, cli_in_process, name):
    src, out = place
    path = src / f"{name}.npy"
    np.save(path, DEPTHS[name])
    line = _one_error(cli_in_process(_fast(src, out, "--depth-map", path)), out, path)
    assert "internal error" not in line


def test_image_size_limit_and_hint_agree(place, cli_in_process):
    from blender_img2mesh.pipeline.source import image_io

    src, out = place
    Image.new("RGB", (15, 40), (200, 10, 10)).save(src / "thin.png")
    line = _one_error(cli_in_process([src / "thin.png", "-o", out / "m.ply",
                                      "--depth-model", "inflate", "-q"]), out, "thin.png")
    assert f"at least {image_io.MIN_SIDE} px" in line and image_io.MIN_SIDE == 16
    Image.new("RGB", (16, 16), (200, 10, 10)).save(src / "small.png")
    rgb, _ = image_io.load_photo(src / "small.png")
    assert rgb.shape == (16, 16, 3)


# ---------------------------------------------------------------- before torch


PROBE = ("import sys\nfrom blender_img2mesh.pipeline import cli\ncode = cli.main()\n"
         "print(sorted(m for m in ('torch', 'transformers', 'rembg', 'onnxruntime', "
         "'diffusers') if m in sys.modules))\nsys.exit(code)\n")


def _probe(argv):
    return subprocess.run([sys.executable, "-c", PROBE, *map(str, argv)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", ["missing", "empty", "no_weights", "cuda", "cuda_inflate",
                                  "t2i_empty"])
def test_refused_before_heavy_imports(place, tmp_path, case):
    """A bad model folder or an impossible --device: refused before torch, transformers
    or rembg are imported (this machine's torch has no CUDA)."""
    src, out = place
    folder = tmp_path / "model"
    folder.mkdir()
    if case == "no_weights":
        (folder / "config.json").write_text("{}")
    argv = [src / "cat.png", "-o", out / "cat.ply"]
    argv += {"missing": ["--depth-model", tmp_path / "no" / "such"],
             "empty": ["--depth-model", folder], "no_weights": ["--depth-model", folder],
             "cuda": ["--device", "cuda"],
             "cuda_inflate": ["--device", "cuda", "--depth-model", "inflate"],
             "t2i_empty": ["--t2i-model", folder]}[case]
    if case == "t2i_empty":
        argv = ["--prompt", "a mug", *argv[1:]]
    proc = _probe(argv)
    named = {"missing": "such", "empty": "config.json", "no_weights": "safetensors",
             "cuda": "--device cuda", "cuda_inflate": "--device cuda",
             "t2i_empty": "model_index.json"}[case]
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and named in lines[0], proc.stderr
    assert proc.stdout.strip() == "[]", "heavy libraries were imported first"
    assert os.listdir(out) == ["keep.txt"]


def test_device_that_nothing_uses_is_a_warning(place, cli_in_process, monkeypatch):
    """On a machine with CUDA, --device cuda with inflation runs and says the option has
    no effect (nothing else would tell the user)."""
    from blender_img2mesh.pipeline.command import checks

    monkeypatch.setattr(checks, "_torch_build", lambda: (True, True))
    monkeypatch.setattr(checks, "_gpu_driver", lambda: True)
    src, out = place
    code, stdout, err = cli_in_process(_fast(src, out, "--device", "cuda", "--json"))
    assert code == 0, err
    warnings = [e for e in map(json.loads, stdout.splitlines()) if e["event"] == "warning"]
    assert len(warnings) == 1 and "--device cuda has no effect" in warnings[0]["message"]


def test_device_check_reads_the_torch_build(monkeypatch):
    from blender_img2mesh.pipeline.command import checks

    installed, gpu = checks._torch_build()
    import torch

    assert installed and gpu == (torch.version.cuda is not None or
                                 getattr(torch.version, "hip", None) is not None)
    monkeypatch.setattr(checks.importlib.util, "find_spec", lambda name: None)
    assert checks._torch_build() == (False, False)


@pytest.mark.parametrize("f", [0.0, float("nan")])
def test_surface_with_invalid_points_is_an_error(f):
    """A focal length of 0 or NaN (a model's broken field of view) would put vertices at
    infinity or NaN: an error naming what to check, before any file or JSON is written."""
    from blender_img2mesh.pipeline import cli
    from blender_img2mesh.pipeline.geometry import reconstruct
    from blender_img2mesh.pipeline.errors import Img2MeshError
    from blender_img2mesh.pipeline.job import Job
    from blender_img2mesh.pipeline.progress import Reporter

    args = cli.parse_args(["x.png", "--keep-background", "--depth-model", "inflate"])
    z, mask = np.ones((40, 60), np.float32), np.ones((40, 60), bool)
    with np.errstate(all="ignore"), pytest.raises(Img2MeshError, match="NaN or infinite"):
        reconstruct.build_surface(Job.from_args(args).geometry, z, mask, f, Reporter())


def test_json_events_are_strict():
    """Progress fractions are sanitised where they are made; anything else that is not a
    finite number is refused by the sink rather than written as NaN / Infinity."""
    import io

    from blender_img2mesh.pipeline.progress import Reporter, json_sink

    out = io.StringIO()
    reporter = Reporter(json_sink(out))
    reporter.stage("load", "Loading")
    reporter.update(float("nan"))
    assert json.loads(out.getvalue().splitlines()[-1])["stage_fraction"] == 0.0
    with pytest.raises(ValueError):
        reporter.result({"size": float("inf")})
    assert "Infinity" not in out.getvalue() and "NaN" not in out.getvalue()
