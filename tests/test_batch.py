"""The batch on one machine: several photos, folders and globs into one output folder,
failures reported and skipped over, the manifest, resumption, interrupts, JSON events."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import REPO, json_lines

FAST = ["--depth-model", "inflate", "--max-size", "96", "--keep-background"]


@pytest.fixture
def photos(tmp_path, photo):
    """a.png (astronaut), a.jpg (rocket: a name clash), shelf/ (coffee, chelsea and a
    note that is not a photo), shots/*.jpg (grace_hopper, hubble), broken.jpg."""
    shutil.copy(photo("astronaut.png"), tmp_path / "a.png")
    shutil.copy(photo("rocket.jpg"), tmp_path / "a.jpg")
    (tmp_path / "shelf").mkdir()
    shutil.copy(photo("coffee.png"), tmp_path / "shelf" / "coffee.png")
    shutil.copy(photo("chelsea.png"), tmp_path / "shelf" / "chelsea.png")
    (tmp_path / "shelf" / "notes.txt").write_text("not a photo")
    (tmp_path / "shots").mkdir()
    shutil.copy(photo("grace_hopper.jpg"), tmp_path / "shots" / "grace.jpg")
    shutil.copy(photo("hubble_deep_field.jpg"), tmp_path / "shots" / "hubble.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 this is not a JPEG")
    return tmp_path


def _inputs(d):
    return [d / "a.png", d / "a.jpg", d / "shelf", str(d / "shots" / "*.jpg"), d / "broken.jpg"]


NAMES = ["a", "a_jpg", "chelsea", "coffee", "grace", "hubble", "broken"]


def manifest(folder):
    with open(os.path.join(folder, "manifest.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _last_run(lines, n=len(NAMES)):
    return {rec["name"]: rec for rec in lines[-n:]}


def test_batch_writes_every_photo_and_reports_the_broken_one(photos, cli, mesh_reader):
    out = photos / "out"
    proc = cli([*_inputs(photos), "-o", out, "--format", "obj", *FAST])
    assert proc.returncode == 2, proc.stderr
    # one line for the failure, naming the file and what is wrong
    failed = [line for line in proc.stderr.splitlines() if " failed " in line]
    assert len(failed) == 1 and "broken.jpg" in failed[0] and "Pillow" in failed[0]
    lines = manifest(out)
    assert [rec["name"] for rec in lines] == NAMES  # given order; folder and glob sorted
    by = _last_run(lines)
    assert by["broken"]["status"] == "failed" and by["broken"]["outputs"] == []
    assert by["broken"]["error"]["kind"] == "input"
    assert by["a"]["input"] == str(photos / "a.png")
    assert by["a_jpg"]["input"] == str(photos / "a.jpg")
    for name in NAMES[:-1]:
        rec = by[name]
        assert rec["status"] == "ok" and rec["error"] is None and rec["seconds"] > 0
        assert "surface" in rec["timings"]
        expected = {str(out / f) for f in (f"{name}.obj", f"{name}.mtl", f"{name}.json",
                                          f"{name}_texture.jpg")}
        assert set(rec["outputs"]) == expected and all(os.path.isfile(p) for p in expected)
        sidecar = json.loads((out / f"{name}.json").read_text())
        assert sidecar["input"] == rec["input"]
        assert sidecar["batch"] == {"photo": rec["photo"], "settings": rec["settings"]}
    assert not (out / "broken.obj").exists() and not (out / "notes.obj").exists()
    assert not [f for f in os.listdir(out) if f.startswith(".")]
    # the batch runs the same pipeline as a single command
    single = cli([photos / "shelf" / "coffee.png", "-o", photos / "coffee.obj", *FAST])
    assert single.returncode == 0, single.stderr
    assert (photos / "coffee.obj").read_bytes() == (out / "coffee.obj").read_bytes()
    V, T, _ = mesh_reader(out / "a_jpg.obj")
    assert len(V) == json.loads((out / "a_jpg.json").read_text())["vertices"] and len(T) > 100


def test_resume_skips_what_is_done_redoes_what_is_not(photos, cli):
    out = photos / "out"
    args = [*_inputs(photos)[:4], "-o", out, *FAST]  # no broken photo: exit 0
    assert cli(args).returncode == 0
    n = len(NAMES) - 1
    first = _last_run(manifest(out), n)
    stamps = {f: os.stat(out / f).st_mtime_ns for f in os.listdir(out) if f.endswith(".ply")}

    again = cli(args)
    assert again.returncode == 0, again.stderr
    assert {r["status"] for r in _last_run(manifest(out), n).values()} == {"skipped"}
    assert stamps == {f: os.stat(out / f).st_mtime_ns for f in stamps}

    (out / "coffee_texture.jpg").unlink()  # an incomplete result is redone, alone
    third = cli(args)
    assert third.returncode == 0, third.stderr
    by = _last_run(manifest(out), n)
    assert [k for k, r in by.items() if r["status"] == "ok"] == ["coffee"]
    assert (out / "coffee_texture.jpg").is_file()

    changed = cli(args + ["--thickness", "0.3"])  # other settings: every result redone
    assert changed.returncode == 0
    assert {r["status"] for r in _last_run(manifest(out), n).values()} == {"ok"}
    assert {r["settings"] for r in _last_run(manifest(out), n).values()}.isdisjoint(
        {r["settings"] for r in first.values()})

    redo = cli(args + ["--thickness", "0.3", "--overwrite"])
    assert redo.returncode == 0
    assert {r["status"] for r in _last_run(manifest(out), n).values()} == {"ok"}
    assert len(manifest(out)) == 5 * n


def test_json_events_say_which_photo(photos, cli):
    out = photos / "out"
    proc = cli([photos / "a.png", photos / "shelf", photos / "broken.jpg", "-o", out, "--json",
                *FAST])
    assert proc.returncode == 2
    events = json_lines(proc.stdout)
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["start", "batch_start"] and kinds[-1] == "batch"
    assert events[1]["photos"] == 4 and events[1]["to_do"] == 4
    inputs = [str(photos / "a.png"), str(photos / "shelf" / "chelsea.png"),
              str(photos / "shelf" / "coffee.png"), str(photos / "broken.jpg")]
    for e in events[2:-1]:
        assert inputs[e["photo"]] == e["input"], e
    results = [e for e in events if e["event"] == "result"]
    assert [e["photo"] for e in results] == [0, 1, 2]
    assert [e["input"] for e in events if e["event"] == "error"] == [inputs[3]]
    done = [e for e in events if e["event"] == "photo"]
    assert [(e["done"], e["status"]) for e in done] == [(1, "ok"), (2, "ok"), (3, "ok"),
                                                       (4, "failed")]
    assert done[-1]["eta_seconds"] == 0.0
    fr = [e["fraction"] for e in events if e["event"] == "progress" and e["photo"] == 1]
    assert fr and fr == sorted(fr)
    assert events[-1] | {"seconds": 0} == {"event": "batch", "photos": 4, "ok": 3, "failed": 1,
                                           "skipped": 0, "seconds": 0, "interrupted": False,
                                           "manifest": str(out / "manifest.jsonl")}


def test_preview_per_photo_and_folder_output_errors(photos, cli):
    out = photos / "out"
    proc = cli([photos / "a.png", photos / "a.jpg", "-o", out, "--preview", *FAST])
    assert proc.returncode == 0, proc.stderr
    assert (out / "a_preview.png").is_file() and (out / "a_jpg_preview.png").is_file()
    assert str(out / "a_preview.png") in manifest(out)[0]["outputs"]
    # -o a file
    bad = cli([photos / "a.png", photos / "a.jpg", "-o", photos / "a.png", *FAST])
    assert bad.returncode == 2 and "must be a folder" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    # a folder without photos, a glob matching nothing
    (photos / "empty").mkdir()
    for spec, text in ((photos / "empty", "no photos in the folder"),
                       (str(photos / "none*.png"), "no files match")):
        proc = cli([photos / "a.png", spec, "-o", out, *FAST])
        assert proc.returncode == 2 and text in proc.stderr, proc.stderr
    assert cli([photos / "a.png", photos / "a.jpg", "--prompt", "a mug"]).returncode == 2


def test_ray_missing_says_how_to_install(photos):
    code = ("import sys; sys.modules['ray'] = None; "
            "from blender_img2mesh.pipeline.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, str(photos / "a.png"),
                           str(photos / "a.jpg"), "-o", str(photos / "out"), "--ray", *FAST],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert 'pip install ".[ray]"' in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_batch_leaves_whole_results_and_finishes_on_rerun(photos, sig):
    out = photos / "out"
    args = [sys.executable, "-m", "blender_img2mesh", photos / "a.png", photos / "a.jpg",
            photos / "shelf", str(photos / "shots" / "*.jpg"), "-o", out, "--json",
            "--preview", *FAST]
    proc = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        for line in proc.stdout:  # stop it while the second photo is being worked on
            event = json.loads(line)
            if event["event"] == "progress" and event.get("photo") == 1:
                proc.send_signal(sig)
                break
        rest = proc.communicate(timeout=120)[0]
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, proc.stderr.read() if proc.stderr else ""
    last = json.loads(rest.strip().splitlines()[-1])
    assert last["event"] == "batch" and last["interrupted"] is True
    lines = manifest(out)  # valid JSON lines, only for whole results
    assert [r["name"] for r in lines] == ["a"]
    assert sorted(os.listdir(out)) == ["a.json", "a.ply", "a_preview.png", "a_texture.jpg",
                                       "manifest.jsonl"]
    rerun = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=REPO,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    by = _last_run(manifest(out), 6)
    assert [r["status"] for r in by.values()] == ["skipped"] + ["ok"] * 5
    assert not [f for f in os.listdir(out) if f.startswith(".")]


def test_stems_keep_clashing_names_apart():
    from blender_img2mesh.pipeline.batch.plan import stems

    assert stems(["/x/a.jpg", "/x/a.png", "/y/a.jpg", "/x/a_png.jpg", "/x/B.jpg", "/x/b.png"]) \
        == ["a", "a_png", "a_jpg", "a_png_jpg", "B", "b_png"]


def test_ray_is_an_extra_never_vendored_into_the_blender_zips():
    """Ray is the optional extra [ray] (and a test requirement), not a runtime one: the
    zips' wheel list (tools/buildlib, from requirements-addon.txt) has no ray."""
    import tomllib

    sys.path.insert(0, os.path.join(REPO, "tools"))
    from buildlib import platforms, wheels

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    assert any(r.startswith("ray[default]") for r in project["optional-dependencies"]["ray"])
    assert not any(r.lower().startswith("ray") for r in project["dependencies"])
    for name in platforms.PLATFORMS:
        reqs = wheels.runtime_requirements(os.path.join(REPO, "requirements-addon.txt"),
                                           platforms.PLATFORMS[name])
        assert reqs and not [r for r in reqs if wheels.normalize(r).startswith("ray")]
    with open(os.path.join(REPO, "requirements-test.txt"), encoding="utf-8") as fh:
        assert "ray[default]==" in fh.read()


def test_stage_overlap_gives_the_same_meshes(tmp_path, photo, models_dir_with_u2netp,
                                            tiny_models, cli):
    """The next photo's background is removed while the current one is at its depth (and
    with IMG2MESH_BATCH_OVERLAP=depth its depth network runs while the current one is
    meshed): the results are the ones made without the overlap, what was made ahead
    counted as reused (batch_ahead.py)."""
    for name in ("coffee.png", "chelsea.png", "astronaut.png"):
        shutil.copy(photo(name), tmp_path / name)
    args = [tmp_path / "astronaut.png", tmp_path / "chelsea.png", tmp_path / "coffee.png",
            "--depth-model", tiny_models["glpn"], "--max-size", "128", "--models-dir",
            models_dir_with_u2netp, "--offline"]
    runs = {mode: cli([*args, "-o", tmp_path / mode], env={"IMG2MESH_BATCH_OVERLAP": mode})
            for mode in ("0", "mask", "depth")}
    assert all(r.returncode == 0 for r in runs.values()), [r.stderr for r in runs.values()]
    for i, name in enumerate(("astronaut", "chelsea", "coffee")):
        for mode in ("mask", "depth"):
            assert (tmp_path / mode / f"{name}.ply").read_bytes() == \
                (tmp_path / "0" / f"{name}.ply").read_bytes()
        reused = {mode: json.loads((tmp_path / mode / f"{name}.json").read_text())["reused"]
                  for mode in runs}
        assert reused == {"0": [], "mask": ["mask"] if i else [],
                          "depth": ["depth", "mask"] if i else []}
    # the default is the mask's overlap
    default = cli([*args, "-o", tmp_path / "default"])
    assert default.returncode == 0, default.stderr
    assert json.loads((tmp_path / "default" / "coffee.json").read_text())["reused"] == \
        ["mask"]


def test_terminal_display_one_line_for_the_batch(tmp_path, photo):
    """On a terminal: one redrawn line -- photos done / total, the photo and its stage,
    the time left -- and a line per finished photo."""
    import argparse
    import io

    from blender_img2mesh.pipeline.batch.local import plan
    from blender_img2mesh.pipeline.batch.display import Display
    from blender_img2mesh.pipeline.batch.photo import record

    class Tty(io.StringIO):
        def isatty(self):
            return True

    for name in ("coffee.png", "chelsea.png"):
        shutil.copy(photo(name), tmp_path / name)
    from blender_img2mesh.pipeline.batch.plan import build_parser

    args = build_parser().parse_intermixed_args([str(tmp_path), "-o", str(tmp_path / "out"),
                                                 *FAST])
    folder, jobs, _ = plan(args)
    stream = Tty()
    display = Display(argparse.Namespace(json=False, quiet=False), None, stream)
    display.begin(folder, 2, 2)
    display.photo_start(jobs[0])
    sink = display.photo_sink(jobs[0])
    sink({"event": "progress", "stage": "depth", "fraction": 0.5, "stage_fraction": 0.0,
          "message": "Inflating the silhouette"})
    display.photo_done(jobs[0], record(jobs[0], "ok", outputs=[str(tmp_path / "out" /
                                                                   "chelsea.ply")],
                                       seconds=1.5))
    text = stream.getvalue()
    assert "2 photos -> " in text
    assert "\r[0/2]" in text and "chelsea.png: Inflating the silhouette" in text
    assert " left" in text  # half a photo done: an estimate
    assert "[1/2] ok chelsea.png -> chelsea.ply in 1.5 s" in text


def test_batch_onnx_sessions_sleep_between_operators(tmp_path, photo, tiny_models,
                                                     models_dir_with_u2netp, run_job):
    """While a batch runs two stages side by side, its onnxruntime sessions (the depth
    model's and rembg's) do not spin-wait between operators; a single run keeps
    onnxruntime's default (spinning)."""
    from blender_img2mesh.pipeline.batch.ahead import Ahead

    def spinning(cache):
        sessions = [v.session if k[0] == "depth" else v.inner_session
                    for k, v in cache.items() if isinstance(k, tuple)]
        assert len(sessions) == 2, cache.keys()
        return [_config(s.get_session_options(), "session.intra_op.allow_spinning")
                for s in sessions]

    argv = [photo("coffee.png"), "-o", tmp_path / "c.ply", "--depth-model",
            tiny_models["glpn"], "--max-size", "64", "--models-dir", models_dir_with_u2netp,
            "--offline"]
    batch, single = {}, {}
    Ahead(batch, "depth").close()
    run_job(argv, cache=batch)
    run_job(argv, cache=single)
    assert spinning(batch) == ["0", "0"]
    assert spinning(single) == [None, None]  # unset: onnxruntime's default


def _config(options, key):
    try:
        return options.get_session_config_entry(key)
    except RuntimeError:  # not set
        return None
