"""Signals and the worker's request format.

SIGINT, SIGTERM and SIGHUP end a run cleanly: the temporary file being written is
removed, the exit code is 128 + the signal's number, ``--json`` ends with an ``error``
event of kind ``cancelled``, and there is no traceback -- also during the imports and in
an idle worker.  The worker answers every request it cannot run with one ``error`` event
and runs nothing: unknown commands, ids that are not JSON-safe, requests that are not
objects.  The signal is sent by the process itself at a chosen point (while the mesh's
temporary file is on disk, or while numpy is being imported), so nothing depends on
timing.
"""

import io
import json
import os
import signal
import subprocess
import sys

import pytest
from PIL import Image

from conftest import REPO

#: runs MODULE's main() with write_ply sending KILL_WITH to this process after writing
#: the temporary mesh file (the handler raises right there, inside the write)
INJECT = """
import os, signal, sys
from blender_img2mesh.pipeline.output import mesh_files as export
real = export.write_ply
def write_ply(path, *args):
    real(path, *args)
    assert os.path.getsize(path) > 0
    os.kill(os.getpid(), getattr(signal, os.environ["KILL_WITH"]))
export.write_ply = write_ply
from blender_img2mesh.pipeline import {module}
sys.exit({module}.main())
"""

#: Ctrl-C while numpy is being imported: the first half second of the command line
DURING_IMPORT = """
import os, runpy, signal, sys
class Hook:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Hook())
sys.argv = ["img2mesh"] + sys.argv[1:]
runpy.run_module("blender_img2mesh", run_name="__main__", alter_sys=True)
"""

CODES = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


@pytest.fixture
def place(tmp_path, photo):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("not ours\n")
    Image.open(photo("chelsea.png")).convert("RGB").resize((96, 64)).save(tmp_path / "cat.png")
    return tmp_path / "cat.png", out


def _job(photo, out, name="cat.ply"):
    return [str(photo), "-o", str(out / name), "--keep-background", "--depth-model",
            "inflate", "--max-size", "64"]


def _python(code, argv=(), stdin=None, sig=None):
    env = dict(os.environ, KILL_WITH=sig or "SIGTERM")
    return subprocess.run([sys.executable, "-c", code, *argv], input=stdin, cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def strict(text):
    """Every line parsed as strict JSON (no NaN / Infinity)."""
    def refuse(name):
        raise ValueError(f"{name} in the output")

    return [json.loads(ln, parse_constant=refuse) for ln in text.splitlines() if ln.strip()]


@pytest.mark.parametrize("sig", sorted(CODES))
def test_signal_while_writing_cleans_up(place, sig):
    photo, out = place
    proc = _python(INJECT.format(module="cli"), _job(photo, out) + ["--json"], sig=sig)
    assert proc.returncode == CODES[sig], proc.stderr
    assert "Traceback" not in proc.stderr
    events = strict(proc.stdout)
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "cancelled"
    assert sig in events[-1]["message"]
    assert os.listdir(out) == ["keep.txt"], "a temporary file was left behind"


def test_signal_without_json_is_quiet(place):
    photo, out = place
    proc = _python(INJECT.format(module="cli"), _job(photo, out) + ["-q"], sig="SIGTERM")
    assert proc.returncode == 143 and proc.stderr == "" and proc.stdout == ""
    assert os.listdir(out) == ["keep.txt"]


def test_ctrl_c_during_imports_prints_no_traceback(place):
    photo, out = place
    proc = _python(DURING_IMPORT, _job(photo, out))
    assert proc.returncode == 130
    assert proc.stderr == "" and proc.stdout == ""
    assert os.listdir(out) == ["keep.txt"]


@pytest.mark.parametrize("sig", sorted(CODES))
def test_idle_worker_ends_quietly(sig):
    proc = subprocess.Popen([sys.executable, "-m", "blender_img2mesh.pipeline.worker"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO, text=True)
    start = json.loads(proc.stdout.readline())  # up and waiting for a request
    assert start["event"] == "start"
    proc.send_signal(getattr(signal, sig))
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == CODES[sig]
    assert stderr == "" and stdout == ""


def test_signal_during_a_worker_job_ends_the_job_and_the_worker(place):
    photo, out = place
    lines = [json.dumps({"id": "one", "args": _job(photo, out)}),
             json.dumps({"id": "two", "args": _job(photo, out, "two.ply")})]
    proc = _python(INJECT.format(module="worker"), stdin="\n".join(lines) + "\n")
    assert proc.returncode == 143 and "Traceback" not in proc.stderr
    events = strict(proc.stdout)
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "cancelled"
    assert events[-1]["id"] == "one" and not [e for e in events if e.get("id") == "two"]
    assert os.listdir(out) == ["keep.txt"]


# ---------------------------------------------------------------- worker requests


def serve(lines):
    """The worker in this process: (exit code, events) for these request lines."""
    from blender_img2mesh.pipeline.worker import serve as run

    out = io.StringIO()
    code = run(io.StringIO("".join(ln + "\n" for ln in lines)), out)
    return code, strict(out.getvalue())


def _errors(events, job_id):
    return [e for e in events if e.get("id") == job_id and e["event"] == "error"]


def test_unknown_commands_run_nothing(place):
    photo, out = place
    code, events = serve([
        json.dumps({"id": "a", "cmd": "explode", "args": _job(photo, out)}),
        json.dumps({"id": "b", "cmd": "status"}),
        json.dumps({"id": "c", "cmd": 5, "args": _job(photo, out)}),
        json.dumps({"id": "d", "cmd": None, "args": ["--fov", "nan", str(photo)]}),
    ])
    assert code == 0
    for job in "abc":
        errors = _errors(events, job)
        assert len(errors) == 1 and "unknown command" in errors[0]["message"], job
        assert [e["event"] for e in events if e.get("id") == job] == ["error"]
    assert "--fov" in _errors(events, "d")[0]["message"]  # "cmd": null is a job
    assert os.listdir(out) == ["keep.txt"]


def test_ids_must_be_json_safe(place):
    photo, out = place
    code, events = serve([
        '{"id": 1e999, "args": ' + json.dumps(_job(photo, out)) + "}",
        '{"id": NaN, "args": []}',
        '{"id": [1, 2], "args": []}',
        '{"id": true, "cmd": "shutdown"}',
        "[1, 2, 3]",
        '"just a string"',
        json.dumps({"id": 2 ** 70, "args": [str(photo), "--size", "inf"]}),
        json.dumps({"id": 0.5, "cmd": "shutdown"}),
        json.dumps({"id": "after", "args": []}),
    ])
    assert code == 0
    refused = [e for e in events if e["event"] == "error" and e["id"] is None]
    assert len(refused) == 6  # 1e999, NaN, list, true, a list request, a string request
    assert "id must be" in refused[0]["message"] and "not a JSON object" in refused[1]["message"]
    assert "--size" in _errors(events, 2 ** 70)[0]["message"]
    assert "after" not in [e.get("id") for e in events]  # the float id's shutdown worked
    assert os.listdir(out) == ["keep.txt"]


def test_bad_arguments_keep_file_and_kind(place):
    photo, out = place
    _, events = serve([json.dumps({"id": 1, "args": _job(photo, out) +
                                   ["--preview", str(out / "p.jpg")]})])
    err = _errors(events, 1)[0]
    assert err["kind"] == "output" and err["file"] == str(out / "p.jpg")
    assert err["hint"] == "e.g. --preview p.png"


def test_a_bug_in_the_checks_is_answered_not_fatal(place, monkeypatch, capsys):
    """Should a check itself fail, the worker answers with an internal error and goes on,
    and the command line says so in one line (exit 1), without a traceback."""
    from blender_img2mesh.pipeline.command import checks
    from blender_img2mesh.pipeline import cli

    photo, out = place
    monkeypatch.setattr(checks, "numbers", lambda args: 1 / 0)
    code, events = serve([json.dumps({"id": 1, "args": _job(photo, out)}),
                          json.dumps({"id": 2, "args": ["--bogus"]})])
    assert code == 0
    assert _errors(events, 1)[0]["kind"] == "internal"
    assert "ZeroDivisionError" in _errors(events, 1)[0]["message"]
    assert "--bogus" in _errors(events, 2)[0]["message"]
    assert cli.main(_job(photo, out)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: internal error: ZeroDivisionError") and err.count("\n") == 1
