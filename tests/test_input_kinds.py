"""Every input kind ends (issue 22): a named pipe, a device or a socket given as the
photo, the mask or the depth map is refused up front (single run, batch, worker), never
read; names with control characters are refused with one line (a batch renames them);
messages name the photo's real size and a models folder that is a file."""

import json
import os
import socket

import numpy as np
import pytest
from PIL import Image

from blender_img2mesh.pipeline.output import mesh_files
from conftest import json_lines

FAST = ["--depth-model", "inflate", "--max-size", "64", "--keep-background"]


@pytest.fixture
def kinds(tmp_path, photo):
    """A photo, and a named pipe, a socket and a folder beside it."""
    Image.open(photo("chelsea.png")).convert("RGB").resize((300, 200)).save(
        tmp_path / "cat.png")
    os.mkfifo(tmp_path / "pipe.png")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.png"))
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "out").mkdir()
    yield tmp_path
    sock.close()


def _one_error(proc):
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), \
        proc.stderr
    return lines[0]


@pytest.mark.parametrize("name,what", [("pipe.png", "named pipe"), ("sock.png", "socket"),
                                       ("dir.png", "folder")])
@pytest.mark.parametrize("role", ["photo", "--mask", "--depth-map"])
def test_a_file_that_is_not_regular_is_refused_up_front(kinds, cli, name, what, role):
    path = kinds / name
    if role == "photo":
        argv = [path, *FAST]
    elif role == "--mask":
        argv = [kinds / "cat.png", "--mask", path, "--depth-model", "inflate"]
    else:
        argv = [kinds / "cat.png", "--depth-map", path, "--keep-background"]
    proc = cli([*argv, "-o", kinds / "out" / "m.ply"], timeout=60)
    line = _one_error(proc)
    assert what in line and name in line
    assert os.listdir(kinds / "out") == []


def test_a_named_pipe_in_a_batch_is_that_photos_error(kinds, cli):
    """Named as an input it fails as that photo (the batch goes on); in a folder it is
    not a photo at all."""
    proc = cli([kinds / "pipe.png", kinds / "cat.png", "-o", kinds / "out", *FAST,
                "--json"], timeout=120)
    assert proc.returncode == 2
    photos = {e["input"]: e for e in json_lines(proc.stdout) if e["event"] == "photo"}
    assert photos[str(kinds / "pipe.png")]["status"] == "failed"
    assert "named pipe" in photos[str(kinds / "pipe.png")]["error"]["message"]
    assert photos[str(kinds / "cat.png")]["status"] == "ok"
    proc = cli([kinds, "-o", kinds / "out2", *FAST, "--json"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json_lines(proc.stdout)[1]["photos"] == 1


def test_a_named_pipe_in_a_worker_request_is_answered(kinds, worker):
    req = {"id": 1, "args": [str(kinds / "pipe.png"), "-o", str(kinds / "out" / "m.ply"),
                             *FAST]}
    proc = worker(json.dumps(req) + "\n", timeout=60)
    ends = [e for e in json_lines(proc.stdout) if e["event"] == "error"]
    assert len(ends) == 1 and "named pipe" in ends[0]["message"]


@pytest.mark.parametrize("ext", [".ply", ".obj", ".glb"])
@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x1b", "\u2028"])
def test_an_output_name_with_a_control_character_is_refused(kinds, cli_in_process, ext,
                                                             char):
    code, _, err = cli_in_process([kinds / "cat.png", "-o", kinds / "out" / f"a{char}b{ext}",
                                   *FAST])
    assert code == 2 and "control character" in err
    assert os.listdir(kinds / "out") == []


def test_a_batch_renames_a_photo_with_a_line_break(kinds, cli, mesh_reader):
    src = kinds / "src"
    src.mkdir()
    os.link(kinds / "cat.png", src / "two\nlines.png")
    proc = cli([src, "-o", kinds / "out", *FAST, "--format", "obj"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (kinds / "out" / "two_lines.obj").exists()
    assert "mtllib two_lines.mtl" in (kinds / "out" / "two_lines.obj").read_text()
    assert "map_Kd two_lines_texture.jpg" in (kinds / "out" / "two_lines.mtl").read_text()


def test_mesh_headers_never_hold_a_line_break(tmp_path):
    v = np.eye(3)
    t = np.array([[0, 1, 2]])
    with pytest.raises(ValueError, match="control character"):
        mesh_files.write_ply(tmp_path / "m.ply", v, t, uv=v[:, :2], texture_name="a\nb.jpg")
    with pytest.raises(ValueError, match="control character"):
        mesh_files.write_obj(tmp_path / "m.obj", v, t, mtl_name="a\rb.mtl")
    with pytest.raises(ValueError, match="control character"):
        mesh_files.write_mtl(tmp_path / "m.mtl", "a\x00b.png")


@pytest.mark.parametrize("option", ["--mask", "--depth-map"])
def test_a_size_mismatch_names_the_photos_real_size(kinds, cli_in_process, option):
    """The photo is 300x200 px, the working size 64x43: the message says 300x200."""
    if option == "--mask":
        Image.new("L", (50, 50), 255).save(kinds / "given.png")
        extra = ["--mask", kinds / "given.png", "--depth-model", "inflate"]
    else:
        np.save(kinds / "given.npy", np.ones((50, 50), np.float32))
        extra = ["--depth-map", kinds / "given.npy", "--keep-background"]
    code, _, err = cli_in_process([kinds / "cat.png", "-o", kinds / "out" / "m.ply",
                                   "--max-size", "64", *extra])
    assert code == 2
    assert "50x50 px but the photo is 300x200 px" in err and "64x" not in err


@pytest.mark.parametrize("how", ["env", "env_inside", "option"])
def test_a_models_folder_that_is_a_file_is_a_clear_exit_2(kinds, cli, how):
    (kinds / "a_file").write_text("x")
    target = kinds / "a_file" / "models" if how == "env_inside" else kinds / "a_file"
    env = {"IMG2MESH_MODELS": str(target)} if how.startswith("env") else {}
    extra = ["--models-dir", target] if how == "option" else []
    proc = cli([kinds / "cat.png", "-o", kinds / "out" / "m.ply", "--max-size", "64",
                *extra], env=env, timeout=60)
    line = _one_error(proc)
    assert ("IMG2MESH_MODELS" if how.startswith("env") else "--models-dir") in line
    assert "a_file" in line
