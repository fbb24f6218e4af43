"""One owner per file name (issue 22): a result's companions (texture, .mtl, sidecar,
preview) never land on an input or on another existing result's files; an overwrite
replaces the whole previous result; what the sidecar records (sizes) makes "complete"
checkable."""

import json
import os

from PIL import Image

from blender_img2mesh.pipeline.output import owners

FAST = ["--depth-model", "inflate", "--max-size", "64", "--keep-background"]


def _files(folder):
    return {n: os.path.getsize(os.path.join(folder, n)) for n in sorted(os.listdir(folder))}


def test_a_ply_then_a_obj_is_refused_and_a_ply_stays_whole(tmp_path, photo, cli_in_process):
    """The case of the issue: coffee -> out/a.ply, then chelsea -> out/a.obj would have
    replaced a_texture.jpg and a.json (a.ply then showing chelsea on coffee's shape)."""
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = cli_in_process([photo("coffee.png"), "-o", out / "a.ply", *FAST])
    assert code == 0, err
    before = {n: (out / n).read_bytes() for n in os.listdir(out)}
    code, _, err = cli_in_process([photo("chelsea.png"), "-o", out / "a.obj", *FAST])
    assert code == 2
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, err
    assert "belongs to another result" in errors[0] and "a.ply" in errors[0]
    assert "Loading" not in err  # refused before any work
    assert {n: (out / n).read_bytes() for n in os.listdir(out)} == before


def test_an_overwrite_replaces_the_whole_previous_result(tmp_path, photo, cli_in_process):
    """The same mesh name again with other companions (a PNG texture instead of a JPEG,
    no preview): the old texture and preview go, nothing of the old result stays."""
    out = tmp_path / "a.ply"
    code, _, err = cli_in_process([photo("coffee.png"), "-o", out, *FAST,
                                   "--texture-format", "png", "--preview",
                                   tmp_path / "p.png"])
    assert code == 0, err
    assert set(os.listdir(tmp_path)) == {"a.ply", "a.json", "a_texture.png", "p.png"}
    code, _, err = cli_in_process([photo("chelsea.png"), "-o", out, *FAST])
    assert code == 0, err
    assert set(os.listdir(tmp_path)) == {"a.ply", "a.json", "a_texture.jpg"}
    side = json.loads((tmp_path / "a.json").read_text())
    assert side["input"] == photo("chelsea.png")


def test_a_file_the_user_changed_is_not_removed_with_the_old_result(tmp_path, photo,
                                                                    cli_in_process):
    """A listed file whose size is no longer the recorded one is not the old result's
    any more: the overwrite leaves it."""
    out = tmp_path / "a.ply"
    code, _, _ = cli_in_process([photo("coffee.png"), "-o", out, *FAST, "--preview",
                                 tmp_path / "p.png"])
    assert code == 0
    Image.new("RGB", (5, 5)).save(tmp_path / "p.png")  # the user's own picture now
    code, _, _ = cli_in_process([photo("coffee.png"), "-o", out, *FAST])
    assert code == 0
    assert (tmp_path / "p.png").exists()


def test_the_sidecar_records_every_size_and_says_complete(tmp_path, photo, cli_in_process):
    out = tmp_path / "m.obj"
    code, _, _ = cli_in_process([photo("coffee.png"), "-o", out, *FAST])
    assert code == 0
    side = json.loads((tmp_path / "m.json").read_text())
    assert set(side["sizes"]) == set(side["outputs"]) - {side["sidecar"]}
    assert all(os.path.getsize(p) == n for p, n in side["sizes"].items())
    data = owners.read_sidecar(tmp_path / "m.json")
    assert owners.complete(data, tmp_path / "m.json")
    with open(out, "r+b") as fh:  # truncated
        fh.truncate(100)
    assert not owners.complete(owners.read_sidecar(tmp_path / "m.json"), tmp_path / "m.json")


def test_a_result_whose_mesh_is_gone_owns_nothing(tmp_path, photo, cli_in_process):
    out = tmp_path / "a.ply"
    assert cli_in_process([photo("coffee.png"), "-o", out, *FAST])[0] == 0
    os.remove(out)
    code, _, err = cli_in_process([photo("chelsea.png"), "-o", tmp_path / "a.obj", *FAST])
    assert code == 0, err
    assert json.loads((tmp_path / "a.json").read_text())["mesh"] == str(tmp_path / "a.obj")


def test_a_moved_folder_keeps_its_results(tmp_path, photo, cli_in_process):
    first = tmp_path / "first"
    first.mkdir()
    assert cli_in_process([photo("coffee.png"), "-o", first / "a.ply", *FAST])[0] == 0
    moved = tmp_path / "moved"
    os.rename(first, moved)
    data = owners.read_sidecar(moved / "a.json")
    assert data["mesh"] == str(moved / "a.ply")
    assert owners.complete(data, moved / "a.json")
    code, _, err = cli_in_process([photo("chelsea.png"), "-o", moved / "a.obj", *FAST])
    assert code == 2 and "belongs to another result" in err


def test_a_huge_or_deep_sidecar_owns_nothing_and_breaks_nothing(tmp_path, photo,
                                                                cli_in_process):
    """Sidecars are read bounded: one nested 100000 deep or of 3 MB is not a result."""
    (tmp_path / "a.json").write_text("[" * 100000 + "]" * 100000)
    (tmp_path / "b.json").write_text(json.dumps({"img2mesh_version": "x", "mesh": "b.ply",
                                                 "outputs": ["x" * 3_000_000]}))
    assert owners.read_sidecar(tmp_path / "a.json") is None
    assert owners.read_sidecar(tmp_path / "b.json") is None
    code, _, err = cli_in_process([photo("coffee.png"), "-o", tmp_path / "a.ply", *FAST])
    assert code == 0, err
