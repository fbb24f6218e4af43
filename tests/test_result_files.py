"""One atomic result: all files or none, the previous result untouched on failure, inputs
never overwritten, stale temporary files cleaned, write errors reported as such."""

import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from blender_img2mesh.pipeline.output import disk, mesh_files as meshfiles, result_files as outputs
from blender_img2mesh.pipeline.errors import Img2MeshError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["--depth-model", "inflate", "--max-size", "96", "--keep-background"]


def _snapshot(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        out[name] = None if os.path.isdir(path) else open(path, "rb").read()
    return out


def test_a_failure_leaves_the_previous_result_whole(tmp_path, photo, cli):
    """An existing result and a folder where the new sidecar would go: exit 2, naming
    it; the previous mesh is not replaced (before: exit 1 and out.ply replaced)."""
    out = tmp_path / "out.ply"
    assert cli([photo("coffee.png"), "-o", out, *FAST]).returncode == 0
    os.remove(tmp_path / "out.json")
    (tmp_path / "out.json").mkdir()
    before = _snapshot(tmp_path)
    proc = cli([photo("astronaut.png"), "-o", out, *FAST])
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "out.json" in errors[0]
    assert "Loading" not in proc.stderr  # refused before any work
    assert _snapshot(tmp_path) == before


def test_write_error_mid_result_is_exit_2_and_nothing_lands(tmp_path, photo, run_job,
                                                            monkeypatch):
    """The disk fills up while the mesh is written (after the texture): an output error
    naming the mesh, and neither file appears."""
    def full(path, *a, **k):
        with open(path, "wb") as fh:
            fh.write(b"ply\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(meshfiles, "write_ply", full)
    with pytest.raises(Img2MeshError) as err:
        run_job([photo("coffee.png"), "-o", tmp_path / "out.ply", *FAST])
    assert err.value.kind == "output" and err.value.file == str(tmp_path / "out.ply")
    assert "disk is full" in err.value.one_line()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("clash", ["preview", "mask", "sidecar"])
def test_outputs_never_overwrite_inputs(tmp_path, photo, cli, clash):
    src = tmp_path / "photo.png"
    src.write_bytes(open(photo("coffee.png"), "rb").read())
    args = [src, "-o", tmp_path / "mesh.ply", *FAST]
    if clash == "preview":
        args += ["--preview", src]
    elif clash == "mask":
        link = tmp_path / "link.png"  # the same file through a symlink
        os.symlink(src, link)
        args = [tmp_path / "other.png", "-o", tmp_path / "m.ply", "--mask", link,
                "--depth-model", "inflate", "--max-size", "96", "--preview", src]
        (tmp_path / "other.png").write_bytes(src.read_bytes())
    else:  # the sidecar of photo.ply is photo.json: make the input that name
        (tmp_path / "in.json").write_bytes(src.read_bytes())
        args = [tmp_path / "in.json", "-o", tmp_path / "in.ply", *FAST]
    before = _snapshot(tmp_path)
    proc = cli(args)
    assert proc.returncode == 2, proc.stderr
    assert "overwrite an input" in proc.stderr
    assert _snapshot(tmp_path) == before


def test_stale_partials_of_dead_runs_are_removed(tmp_path, photo, cli):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    host = disk.HOST
    stale = tmp_path / f".out.ply.img2mesh-{host}-{dead}-0badc0de.partial"
    alive = tmp_path / f".out.ply.img2mesh-{host}-{os.getpid()}-0badc0de.partial"
    other = tmp_path / f".out.ply.img2mesh-elsewhere-{dead}-0badc0de.partial"
    for p in (stale, alive, other):
        p.write_bytes(b"x" * 100)
    assert cli([photo("coffee.png"), "-o", tmp_path / "out.ply", *FAST]).returncode == 0
    assert not stale.exists()
    assert alive.exists() and other.exists()  # a live process's, another machine's


def test_commit_puts_back_what_it_replaced(tmp_path, monkeypatch):
    """A rename failing midway: files already replaced get their old content back."""
    a, b = tmp_path / "a.ply", tmp_path / "a.json"
    a.write_text("old mesh")
    b.write_text("old sidecar")
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if str(dst) == str(b) and len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    with outputs.Result() as files:
        for p, text in ((a, "new mesh"), (b, "new sidecar")):
            files.plan(p, "mesh")
            files.write(p, lambda tmp, t=text: open(tmp, "w").write(t))
        monkeypatch.setattr(os, "replace", flaky)
        with pytest.raises(Img2MeshError) as err:
            files.commit()
    assert "a.json" in str(err.value)
    assert a.read_text() == "old mesh" and b.read_text() == "old sidecar"
    assert sorted(os.listdir(tmp_path)) == ["a.json", "a.ply"]


def test_two_runs_on_one_output_leave_one_whole_result(tmp_path, photo):
    """Two photos written to the same result at once: the mesh and the sidecar that
    land belong together (the last complete commit wins as a whole)."""
    out = tmp_path / "same.ply"
    procs = [subprocess.Popen([sys.executable, "-m", "blender_img2mesh", photo(name), "-o",
                               str(out), "-q", *FAST], cwd=REPO, stderr=subprocess.PIPE)
             for name in ("coffee.png", "astronaut.png")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    side = json.loads((tmp_path / "same.json").read_text())
    with open(out, "rb") as fh:
        header = fh.read(400).decode("latin1")
    n = int(header.split("element vertex ")[1].split()[0])
    assert n == side["vertices"]
    assert sorted(os.listdir(tmp_path)) == ["same.json", "same.ply", "same_texture.jpg"]


def test_plan_refuses_two_outputs_at_one_path(tmp_path):
    with outputs.Result() as files:
        files.plan(tmp_path / "x.png", "preview")
        with pytest.raises(Img2MeshError, match="same file"):
            files.plan(tmp_path / "x.png", "texture")
    assert np.all([not n.endswith(".partial") for n in os.listdir(tmp_path)])
