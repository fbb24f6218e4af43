"""Loading a model tells its phases: reading the files, building the network (or its
ONNX Runtime session), the first run (a preload) -- as ``progress`` events of the
``model`` stage with a ``phase`` field, in --json, so a front end's progress never sits
still on one "Loading models" line."""

import json
import shutil

from blender_img2mesh.pipeline.progress import PHASES


def model_events(events):
    return [e for e in events if e["event"] == "progress" and e["stage"] == "model"]


def test_phases_of_a_local_model_in_json(cli, parse_json_lines, tiny_models, photo,
                                         tmp_path):
    folder = tmp_path / "my-glpn"  # a custom folder, as the add-on's Custom depth model
    shutil.copytree(tiny_models["glpn"], folder)
    argv = [photo("coffee.png"), "-o", tmp_path / "out.ply", "--json", "--keep-background",
            "--max-size", "64", "--offline", "--depth-model", folder,
            "--models-dir", tmp_path / "models"]
    first = cli(argv)
    assert first.returncode == 0, first.stderr[-2000:]
    events = model_events(parse_json_lines(first.stdout))
    phases = [e.get("phase") for e in events if "phase" in e]
    assert set(phases) <= set(PHASES)
    # the files, then the export (once), then the ONNX Runtime session
    assert phases[0] == "read" and "build" in phases
    messages = [e["message"] for e in events if e.get("phase") == "build"]
    assert messages == ["Preparing the depth model for this machine (once)",
                        "Creating the ONNX Runtime session (my-glpn)"]
    # the folder's name, never its path's start
    assert all(str(tmp_path) not in e["message"] for e in events)
    assert "Reading the depth model's files (my-glpn)" in [e["message"] for e in events]
    fractions = [e["stage_fraction"] for e in events if "phase" in e]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0]

    again = cli(argv)  # exported before: the files, then the session only
    messages = [(e["phase"], e["message"]) for e in model_events(parse_json_lines(again.stdout))
                if "phase" in e]
    assert messages == [("read", "Reading the depth model's files (my-glpn)"),
                        ("build", "Creating the ONNX Runtime session (my-glpn)")]


def test_torch_backend_says_it_builds_the_network(run_job, tiny_models, photo, tmp_path):
    _, events = run_job([photo("coffee.png"), "-o", tmp_path / "out.ply", "--keep-background",
                         "--max-size", "64", "--offline", "--depth-model",
                         tiny_models["glpn"], "--depth-backend", "torch"])
    built = [e["message"] for e in model_events(events) if e.get("phase") == "build"]
    assert built == ["Building the network with PyTorch (glpn)"]


def test_events_without_a_phase_have_no_phase_field(run_job, photo, tmp_path):
    _, events = run_job([photo("coffee.png"), "-o", tmp_path / "out.ply", "--keep-background",
                         "--max-size", "64", "--depth-model", "inflate"])
    assert all("phase" not in e for e in events)  # the protocol stays as it was


def test_preload_reports_the_first_run(worker, tiny_models, tmp_path):
    request = {"id": "ahead", "cmd": "preload", "args": [
        "--keep-background", "--offline", "--depth-model", tiny_models["glpn"],
        "--models-dir", str(tmp_path)]}
    proc = worker(json.dumps(request) + "\n")
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert events[-1]["event"] == "result", proc.stderr[-2000:]
    phases = [e["phase"] for e in model_events(events) if "phase" in e]
    assert phases[0] == "read" and phases[-1] == "first_run"
