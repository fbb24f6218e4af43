"""The command line as a user meets it: each failure is one clear line on stderr, a
non-zero exit code, and nothing written; --json gives a clean event stream."""

import os

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def setup(tmp_path, photo):
    """An output folder holding one unrelated file, and a folder of bad inputs."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("not ours\n")
    bad = tmp_path / "inputs"
    bad.mkdir()
    src = Image.open(photo("chelsea.png")).convert("RGB")
    src.resize((160, 106)).save(bad / "cat.png")
    src.save(bad / "good.jpg", quality=90)
    data = (bad / "good.jpg").read_bytes()
    (bad / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (bad / "notes.jpg").write_text("hello, not a JPEG\n" * 50)
    (bad / "folder.png").mkdir()
    Image.new("L", (160, 106), 0).save(bad / "empty_mask.png")
    np.save(bad / "square.npy", np.ones((50, 50), np.float32))
    (bad / "a_file").write_text("x")
    return out, bad


def _check_failure(proc, out_dir, names, before=("keep.txt",), code=2):
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{proc.stderr}"
    assert lines[0].startswith("error:"), lines[0]
    for name in names:
        assert str(name) in lines[0], f"{name} not named in: {lines[0]}"
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip() == ""
    assert sorted(os.listdir(out_dir)) == sorted(before), "files left in the output folder"


CASES = {
    # id: (input, extra args, what the message must name)
    "missing": ("missing.png", [], ["missing.png"]),
    "directory": ("folder.png", [], ["folder.png"]),
    "not_an_image": ("notes.jpg", [], ["notes.jpg"]),
    "truncated_jpeg": ("truncated.jpg", [], ["truncated.jpg"]),
    "empty_mask": ("cat.png", ["--mask", "{bad}/empty_mask.png"], ["empty_mask.png"]),
    "wrong_size_depth": ("cat.png", ["--depth-map", "{bad}/square.npy", "--keep-background"],
                         ["square.npy"]),
    "unknown_model": ("cat.png", ["--depth-model", "no-such-model", "--keep-background"],
                      ["no-such-model"]),
    "offline_hub_model": ("cat.png", ["--depth-model", "someorg/somemodel", "--offline",
                                      "--keep-background"], ["someorg/somemodel"]),
    "unknown_segmenter": ("cat.png", ["--segmenter", "u3net"], ["u3net"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_input_errors(setup, cli, case):
    out, bad = setup
    name, extra, named = CASES[case]
    extra = [a.format(bad=bad) for a in extra]
    if "--depth-model" not in extra:
        extra += ["--depth-model", "inflate"]
    proc = cli([bad / name, "-o", out / "mesh.ply", "-q", "--max-size", 128,
                "--poisson-depth", 6, *extra])
    _check_failure(proc, out, named)


def test_output_folder_missing(setup, cli):
    out, bad = setup
    target = out / "no_such_dir" / "mesh.ply"
    proc = cli([bad / "cat.png", "-o", target, "-q", "--keep-background", "--depth-model",
                "inflate"])
    _check_failure(proc, out, [target])


def test_output_parent_is_a_file(setup, cli):
    out, bad = setup
    target = bad / "a_file" / "mesh.ply"
    proc = cli([bad / "cat.png", "-o", target, "-q", "--keep-background", "--depth-model",
                "inflate"])
    _check_failure(proc, out, [target])
    assert (bad / "a_file").read_text() == "x"


def test_output_is_a_folder(setup, cli):
    out, bad = setup
    (out / "mesh.ply").mkdir()
    proc = cli([bad / "cat.png", "-o", out / "mesh.ply", "-q", "--keep-background",
                "--depth-model", "inflate"])
    _check_failure(proc, out, [out / "mesh.ply"], before=("keep.txt", "mesh.ply"))


@pytest.mark.parametrize("name", ["mesh.stl", "mesh", "mesh.ply.txt"])
def test_bad_output_extension(setup, cli, name):
    out, bad = setup
    proc = cli([bad / "cat.png", "-o", out / name, "-q", "--keep-background",
                "--depth-model", "inflate"])
    _check_failure(proc, out, [out / name])


def test_bad_preview_extension(setup, cli):
    out, bad = setup
    proc = cli([bad / "cat.png", "-o", out / "mesh.ply", "--preview", out / "p.jpg", "-q",
                "--keep-background", "--depth-model", "inflate"])
    _check_failure(proc, out, [out / "p.jpg", "--preview p.png"])
    assert "-o " not in proc.stderr  # the hint is about --preview, not the mesh


def test_error_line_without_quiet(setup, cli):
    """Progress lines may come first, but the error is still exactly one 'error:' line."""
    out, bad = setup
    proc = cli([bad / "truncated.jpg", "-o", out / "mesh.ply"])
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "truncated.jpg" in errors[0]
    assert "Traceback" not in proc.stderr
    assert os.listdir(out) == ["keep.txt"]


def test_verbose_shows_traceback(setup, cli):
    out, bad = setup
    proc = cli([bad / "notes.jpg", "-o", out / "mesh.ply", "-q", "--verbose"])
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr
    assert any(ln.startswith("error:") and "notes.jpg" in ln for ln in proc.stderr.splitlines())


def test_bad_option_values_are_usage_errors(setup, cli):
    out, bad = setup
    for argv in (["--poisson-depth", "3"], ["--fov", "0"], ["--max-size", "8"],
                 ["--mask", bad / "empty_mask.png", "--keep-background"]):
        proc = cli([bad / "cat.png", "-o", out / "m.ply", *argv])
        assert proc.returncode == 2, argv
        assert "Traceback" not in proc.stderr
        assert "error:" in proc.stderr
    assert os.listdir(out) == ["keep.txt"]


# ---------------------------------------------------------------- --json


def _check_stream(events):
    assert events[0]["event"] == "start" and events[0]["protocol"] == 1
    fractions = [e["fraction"] for e in events if e["event"] == "progress"]
    assert fractions, "no progress events"
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b >= a for a, b in zip(fractions, fractions[1:])), fractions
    assert events[-1]["event"] in ("result", "error")
    assert sum(e["event"] in ("result", "error") for e in events) == 1


def test_json_success_stream(setup, cli, parse_json_lines):
    out, bad = setup
    proc = cli([bad / "cat.png", "-o", out / "cat.ply", "--json", "--keep-background",
                "--depth-model", "inflate", "--max-size", 128, "--poisson-depth", 6,
                "--preview", out / "cat.png"])
    assert proc.returncode == 0, proc.stderr
    events = parse_json_lines(proc.stdout)
    _check_stream(events)
    result = events[-1]
    assert result["event"] == "result"
    assert result["mesh"] == str(out / "cat.ply")
    assert sorted(result["outputs"]) == sorted(str(out / n) for n in (
        "cat.ply", "cat.json", "cat.png", "cat_texture.jpg"))
    assert sorted(os.listdir(out)) == ["cat.json", "cat.ply", "cat.png", "cat_texture.jpg",
                                       "keep.txt"]
    stages = [e["stage"] for e in events if e["event"] == "progress"]
    order = ["load", "model", "segment", "depth", "points", "surface", "trim", "export",
             "preview"]
    seen = [s for s in order if s in stages]
    assert [s for s in dict.fromkeys(stages)] == seen, "stages out of order"


def test_json_error_stream(setup, cli, parse_json_lines):
    out, bad = setup
    proc = cli([bad / "cat.png", "-o", out / "cat.ply", "--json", "--mask",
                bad / "empty_mask.png", "--depth-model", "inflate"])
    assert proc.returncode == 2
    events = parse_json_lines(proc.stdout)
    _check_stream(events)
    err = events[-1]
    assert err["event"] == "error" and "holds no object" in err["message"]
    assert err["file"] == str(bad / "empty_mask.png") and err["kind"] == "input"
    assert err["hint"]
    assert os.listdir(out) == ["keep.txt"]


def test_json_warning_stream(setup, cli, parse_json_lines, tmp_path):
    out, bad = setup
    empty_models = tmp_path / "no_models"
    empty_models.mkdir()
    proc = cli([bad / "cat.png", "-o", out / "cat.ply", "--json", "--keep-background",
                "--offline", "--models-dir", empty_models, "--max-size", 128,
                "--poisson-depth", 6])
    assert proc.returncode == 0, proc.stderr
    events = parse_json_lines(proc.stdout)
    _check_stream(events)
    warnings = [e for e in events if e["event"] == "warning"]
    assert len(warnings) == 1 and "inflation" in warnings[0]["message"]
    assert events[-1]["depth_model"] == "inflate"
