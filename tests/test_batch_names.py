"""A batch's names (issue 22): no result file lands on a photo or on another photo's
result, discovery never takes results' files for photos (a batch into its own input
folder settles), resume checks completeness, a name owned by another result is that
photo's error while the batch goes on."""

import json
import os
import shutil

from PIL import Image

from conftest import json_lines

FAST = ["--depth-model", "inflate", "--max-size", "64", "--keep-background"]


def _small(src, dst):
    Image.open(src).convert("RGB").resize((64, 48)).save(dst)


def _state(folder):
    return {n: (folder / n).read_bytes() for n in sorted(os.listdir(folder))
            if n != "manifest.jsonl"}


def _batch_events(proc):
    events = json_lines(proc.stdout)
    return events[0 if events[0]["event"] == "batch_start" else 1], events[-1]


def test_a_photo_named_like_a_texture_is_never_overwritten(tmp_path, photo, cli):
    """The issue's case: a.png and a_texture.jpg, both in DIR, -o DIR: a.png's texture
    would have been DIR/a_texture.jpg.  Now a.png's result gets another name."""
    _small(photo("coffee.png"), tmp_path / "a.png")
    _small(photo("chelsea.png"), tmp_path / "a_texture.jpg")
    kept = (tmp_path / "a_texture.jpg").read_bytes()
    proc = cli([tmp_path / "a.png", tmp_path / "a_texture.jpg", "-o", tmp_path, *FAST])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a_texture.jpg").read_bytes() == kept
    assert not (tmp_path / "a.ply").exists()
    first = json.loads((tmp_path / "a_png.json").read_text())
    assert first["input"] == str(tmp_path / "a.png")
    assert first["texture"] == str(tmp_path / "a_png_texture.jpg")
    second = json.loads((tmp_path / "a_texture.json").read_text())
    assert second["input"] == str(tmp_path / "a_texture.jpg")


def test_a_batch_into_its_own_input_folder_settles(tmp_path, photo, cli):
    """``img2mesh DIR -o DIR --preview`` again and again: the second and third runs take
    the same two photos (the results' textures and previews passed over) and skip
    both; nothing changes on disk."""
    _small(photo("coffee.png"), tmp_path / "cup.png")
    _small(photo("chelsea.png"), tmp_path / "cat.jpg")
    args = [tmp_path, "-o", tmp_path, "--preview", *FAST, "--json"]
    proc = cli(args)
    assert proc.returncode == 0, proc.stderr
    start, end = _batch_events(proc)
    assert start["photos"] == 2 and start["passed_over"] == 0 and end["ok"] == 2
    after_first = _state(tmp_path)
    for _ in range(2):
        proc = cli(args)
        assert proc.returncode == 0, proc.stderr
        start, end = _batch_events(proc)
        assert start["photos"] == 2 and start["to_do"] == 0
        assert start["passed_over"] == 4  # two textures, two previews
        assert end["skipped"] == 2
        assert _state(tmp_path) == after_first
    text = cli([tmp_path, "-o", tmp_path, "--preview", *FAST])
    assert "4 files passed over" in text.stderr


def test_previews_in_the_output_folder_never_land_on_a_texture(tmp_path, photo, cli):
    """--preview=OUT puts OUT/<name>.png: photo a_texture.jpg's preview would be
    a.png's PNG texture.  The later photo gets another name."""
    src = tmp_path / "src"
    src.mkdir()
    _small(photo("chelsea.png"), src / "a_texture.jpg")
    _small(photo("coffee.png"), src / "a.png")
    out = tmp_path / "out"
    proc = cli([src / "a_texture.jpg", src / "a.png", "-o", out, f"--preview={out}", *FAST,
                "--texture-format", "png"])
    assert proc.returncode == 0, proc.stderr
    first = json.loads((out / "a_texture.json").read_text())
    second = json.loads((out / "a_png.json").read_text())
    assert first["preview"] == str(out / "a_texture.png")
    assert second["texture"] == str(out / "a_png_texture.png")
    owned = [set(first["outputs"]), set(second["outputs"])]
    assert not owned[0] & owned[1]
    assert all(os.path.getsize(p) == n for d in (first, second)
               for p, n in d["sizes"].items())


def test_resume_redoes_a_truncated_or_empty_mesh(tmp_path, photo, cli):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("coffee.png", "chelsea.png", "astronaut.png"):
        _small(photo(name), src / name)
    out = tmp_path / "out"
    assert cli([src, "-o", out, *FAST]).returncode == 0
    with open(out / "coffee.ply", "r+b") as fh:
        fh.truncate(200)
    (out / "chelsea.ply").write_bytes(b"")
    proc = cli([src, "-o", out, *FAST, "--json"])
    assert proc.returncode == 0, proc.stderr
    start, end = _batch_events(proc)
    assert start["to_do"] == 2 and end["ok"] == 2 and end["skipped"] == 1
    for name in ("coffee", "chelsea"):
        side = json.loads((out / f"{name}.json").read_text())
        assert os.path.getsize(out / f"{name}.ply") == side["sizes"][str(out / f"{name}.ply")]


def test_a_name_of_another_result_is_that_photos_error(tmp_path, photo, cli):
    """out/cup.obj (a single run) is there; a batch with --format ply would write
    out/cup.json over its sidecar: that photo fails, the other is done, cup.obj's result
    stays whole."""
    src = tmp_path / "src"
    src.mkdir()
    _small(photo("coffee.png"), src / "cup.png")
    _small(photo("chelsea.png"), src / "cat.png")
    out = tmp_path / "out"
    out.mkdir()
    assert cli([photo("astronaut.png"), "-o", out / "cup.obj", *FAST]).returncode == 0
    before = _state(out)
    proc = cli([src, "-o", out, *FAST])
    assert proc.returncode == 2
    failed = [ln for ln in proc.stderr.splitlines() if " failed " in ln]
    assert len(failed) == 1 and "cup.png" in failed[0] and "another result" in failed[0]
    assert (out / "cat.ply").exists()
    assert {n: b for n, b in _state(out).items() if n in before} == before


def test_discovery_keeps_a_users_texture_named_photo_without_a_mesh(tmp_path, photo, cli):
    """x_texture.jpg with no x.ply|obj|glb beside it is a photo like any other."""
    _small(photo("coffee.png"), tmp_path / "x_texture.jpg")
    shutil.copy(tmp_path / "x_texture.jpg", tmp_path / "y.jpg")
    proc = cli([tmp_path, "-o", tmp_path / "out", *FAST, "--json"])
    assert proc.returncode == 0, proc.stderr
    start, _ = _batch_events(proc)
    assert start["photos"] == 2 and start["passed_over"] == 0


def test_a_torn_manifest_line_of_any_length_is_cut_at_the_last_whole_line(tmp_path):
    from blender_img2mesh.pipeline.batch.local import Manifest

    path = tmp_path / "manifest.jsonl"
    path.write_bytes(b'{"a":1}\n' + b"x" * 3_000_000)  # a 3 MB torn line
    Manifest(tmp_path).close()
    assert path.read_bytes() == b'{"a":1}\n'
    path.write_bytes(b"y" * 2_500_000)
    Manifest(tmp_path).close()
    assert path.read_bytes() == b""
