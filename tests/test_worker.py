"""The warm worker: JSON requests on stdin, tagged events on stdout, survives bad requests."""

import json
import os

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def job_inputs(tmp_path, photo):
    src = Image.open(photo("chelsea.png")).convert("RGB").resize((160, 106))
    src.save(tmp_path / "cat.png")
    Image.open(photo("coffee.png")).convert("RGB").resize((150, 100)).save(tmp_path / "cup.png")
    return tmp_path


def _args(folder, name, out):
    return [str(folder / name), "-o", str(folder / out), "--keep-background",
            "--depth-model", "inflate", "--max-size", "128", "--poisson-depth", "6"]


def _by_id(events):
    jobs = {}
    for e in events:
        jobs.setdefault(e.get("id"), []).append(e)
    return jobs


def test_two_jobs_and_bad_requests(job_inputs, worker, parse_json_lines):
    d = job_inputs
    requests = [
        json.dumps({"id": "job-1", "args": _args(d, "cat.png", "cat.ply")}),
        "this is not json",
        json.dumps({"id": "bad-args", "args": ["--poisson-depth", "99", str(d / "cat.png")]}),
        json.dumps({"id": "no-args"}),
        json.dumps({"id": "missing", "args": _args(d, "nope.png", "nope.ply")}),
        json.dumps({"id": "job-2", "args": _args(d, "cup.png", "cup.glb")}),
        json.dumps({"id": "bye", "cmd": "shutdown"}),
        json.dumps({"id": "after", "args": _args(d, "cat.png", "after.ply")}),
    ]
    proc = worker("\n".join(requests) + "\n")
    assert proc.returncode == 0, proc.stderr
    events = parse_json_lines(proc.stdout)
    assert events[0]["event"] == "start" and events[0]["id"] is None
    jobs = _by_id(events)
    for job, out in (("job-1", "cat.ply"), ("job-2", "cup.glb")):
        evs = jobs[job]
        assert evs[-1]["event"] == "result", evs[-1]
        assert evs[-1]["mesh"] == str(d / out) and (d / out).is_file()
        assert evs[-1]["faces"] > 100
        fr = [e["fraction"] for e in evs if e["event"] == "progress"]
        assert fr and all(b >= a for a, b in zip(fr, fr[1:]))
        assert not [e for e in evs if e["event"] == "error"]
    # job order is request order
    ids = [e.get("id") for e in events]
    assert ids.index("job-2") > max(i for i, x in enumerate(ids) if x == "job-1")
    # the bad ones each got one error, and the worker went on
    for job in ("bad-args", "no-args", "missing"):
        assert [e["event"] for e in jobs[job]][-1] == "error", job
        assert sum(e["event"] == "error" for e in jobs[job]) == 1
    assert "poisson-depth" in jobs["bad-args"][-1]["message"]
    assert "nope.png" in jobs["missing"][-1]["message"]
    not_json = [e for e in jobs[None] if e["event"] == "error"]
    assert len(not_json) == 1 and "not a JSON" in not_json[0]["message"]
    # nothing after shutdown
    assert "after" not in jobs and not (d / "after.ply").exists()
    assert "bye" not in jobs


def test_end_of_input_ends_worker(job_inputs, worker, parse_json_lines):
    d = job_inputs
    proc = worker(json.dumps({"id": 7, "args": _args(d, "cat.png", "cat.ply")}) + "\n")
    assert proc.returncode == 0, proc.stderr
    events = parse_json_lines(proc.stdout)
    assert events[-1]["event"] == "result" and events[-1]["id"] == 7


def test_models_are_loaded_once(job_inputs, worker, parse_json_lines, tiny_models):
    """A warm worker keeps the depth model: the second job's model stage is much faster."""
    d = job_inputs
    reqs = [json.dumps({"id": i, "args": _args(d, "cat.png", f"c{i}.ply")[:4] +
                        ["--depth-model", tiny_models["glpn"], "--max-size", "96",
                         "--poisson-depth", "6"]}) for i in (1, 2)]
    proc = worker("\n".join(reqs) + "\n")
    assert proc.returncode == 0, proc.stderr
    res = {e["id"]: e for e in parse_json_lines(proc.stdout) if e["event"] == "result"}
    assert set(res) == {1, 2}
    t1, t2 = res[1]["timings"]["model"], res[2]["timings"]["model"]
    assert t2 < 0.5 * t1 and t2 < 0.2, (t1, t2)


def test_same_photo_again_reuses_mask_and_depth(job_inputs, worker, parse_json_lines,
                                                tiny_models, u2netp_dir, mesh_reader):
    """A second job on the same photo (another thickness) takes the first job's mask and
    raw depth instead of running both networks again, and makes exactly the mesh a fresh
    worker makes; another working size is computed anew."""
    d = job_inputs

    def job(i, out, *extra):
        return json.dumps({"id": i, "args": [
            str(d / "cat.png"), "-o", str(d / out), "--models-dir", u2netp_dir, "--offline",
            "--depth-model", tiny_models["glpn"], "--max-size", "96", *extra]})

    proc = worker("\n".join([job(1, "a.ply", "--thickness", "0.4"),
                             job(2, "b.ply", "--thickness", "0.9"),
                             job(3, "c.ply", "--thickness", "0.9", "--max-size", "80")]) + "\n")
    assert proc.returncode == 0, proc.stderr
    res = {e["id"]: e for e in parse_json_lines(proc.stdout) if e["event"] == "result"}
    assert res[1]["reused"] == [] and res[1]["mask"] == "u2netp"
    assert res[2]["reused"] == ["depth", "mask"]
    assert res[3]["reused"] == []  # another working size
    fresh = worker(job(4, "fresh.ply", "--thickness", "0.9") + "\n")
    assert fresh.returncode == 0, fresh.stderr
    v_reused, t_reused, c_reused = mesh_reader(d / "b.ply")
    v_fresh, t_fresh, c_fresh = mesh_reader(d / "fresh.ply")
    np.testing.assert_array_equal(t_reused, t_fresh)
    np.testing.assert_allclose(v_reused, v_fresh, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(c_reused, c_fresh)
    v_first = mesh_reader(d / "a.ply")[0]
    assert len(v_first) != len(v_reused) or not np.allclose(v_first, v_reused), \
        "the thickness did not change the mesh"


def test_changed_photo_is_not_reused(job_inputs, run_job, tiny_models, u2netp_dir):
    """The same path with new contents (a new modification time) is a new photo; without
    background removal there is no mask to keep, only the depth."""
    d, cache = job_inputs, {}

    def job(out):
        return run_job([d / "cat.png", "-o", d / out, "--models-dir", u2netp_dir,
                        "--offline", "--depth-model", tiny_models["glpn"], "--max-size", "96"],
                       cache=cache)[0]["reused"]

    assert job("1.ply") == [] and job("2.ply") == ["depth", "mask"]
    Image.open(d / "cup.png").resize((160, 106)).save(d / "cat.png")  # new contents
    st = os.stat(d / "cat.png")
    os.utime(d / "cat.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert job("3.ply") == [] and job("4.ply") == ["depth", "mask"]
    # with --keep-background there is no mask to keep, the depth still is
    result, _ = run_job([d / "cat.png", "-o", d / "5.ply", "--keep-background",
                         "--offline", "--depth-model", tiny_models["glpn"],
                         "--max-size", "96"], cache=cache)
    assert result["reused"] == ["depth"] and result["mask"] == "none"


def test_preload_loads_the_models_the_next_job_uses(job_inputs, worker, parse_json_lines,
                                                    tiny_models, u2netp_dir):
    """``preload`` loads the segmenter and the depth model into the worker's cache (the
    job's keys: the following job loads nothing) and writes no files; a preload that
    cannot load (an unknown segmenter, a missing model offline) is one error event, and
    the worker goes on."""
    d = job_inputs
    model_args = ["--models-dir", u2netp_dir, "--offline", "--segmenter", "u2netp",
                  "--depth-model", tiny_models["glpn"], "--max-size", "96"]
    before = sorted(os.listdir(d))
    proc = worker("\n".join(json.dumps(r) for r in [
        {"id": "bad", "cmd": "preload", "args": ["--segmenter", "nope"]},
        {"id": "gone", "cmd": "preload", "args": ["--offline", "--depth-model",
                                                   str(d / "no-such-model")]},
        {"id": "ahead", "cmd": "preload", "args": model_args},
        {"id": "job", "args": [str(d / "cat.png"), "-o", str(d / "cat.ply"), *model_args]},
    ]) + "\n")
    assert proc.returncode == 0, proc.stderr
    jobs = _by_id(parse_json_lines(proc.stdout))
    for bad in ("bad", "gone"):
        assert [e["event"] for e in jobs[bad]][-1] == "error", jobs[bad]
        assert sum(e["event"] == "error" for e in jobs[bad]) == 1
    assert "nope" in jobs["bad"][-1]["message"]
    ahead = jobs["ahead"]
    assert ahead[-1]["event"] == "result", ahead[-1]
    assert ahead[-1]["preloaded"] == ["segmenter:u2netp", f"depth:{tiny_models['glpn']}"]
    assert {e["stage"] for e in ahead if e["event"] == "progress"} == {"model"}
    assert ahead[-1]["seconds"] > 0 and ahead[-1]["timings"]["model"] > 0
    result = jobs["job"][-1]
    assert result["event"] == "result" and result["mask"] == "u2netp"
    assert result["reused"] == []  # the preload's warm-up pass kept no mask or depth
    # the models were there: the job's model stage loaded nothing (a first load of the
    # same models is what the preload's own model stage took)
    assert result["timings"]["model"] < 0.25 * ahead[-1]["timings"]["model"], \
        (result["timings"], ahead[-1]["timings"])
    # what appeared in the folder is the job's files: the preloads wrote none
    assert set(os.listdir(d)) - set(before) == {os.path.basename(p) for p in result["outputs"]}


def test_deep_huge_and_batch_requests_are_answered_not_fatal():
    """Issue 22: a request nested 100000 deep, one of 2 MB, an id of 300 characters and
    a request with two photos each get one short error; the worker goes on to the
    next request and ends normally."""
    import io

    from blender_img2mesh.pipeline.worker import MAX_MESSAGE, serve

    lines = ["[" * 100000 + "]" * 100000,
             json.dumps({"id": 1, "args": ["x" * 2_000_000]}),
             json.dumps({"id": "x" * 300, "args": []}),
             json.dumps({"id": 2, "args": ["a.png", "b.png", "-o", "out/"]}),
             json.dumps({"id": 3, "args": ["a.png", "--bogus" + "y" * 50_000]}),
             json.dumps({"id": 4, "cmd": "shutdown"})]
    out = io.StringIO()
    assert serve(io.StringIO("\n".join(lines) + "\n"), out) == 0
    events = [json.loads(ln) for ln in out.getvalue().splitlines()]
    errors = [e for e in events if e["event"] == "error"]
    assert len(errors) == 5
    assert all(len(e["message"]) <= MAX_MESSAGE + 40 for e in errors)
    assert "nested deeper" in errors[0]["message"]
    assert "longer than" in errors[1]["message"]
    assert "at most 200 characters" in errors[2]["message"] and errors[2]["id"] is None
    assert errors[3]["id"] == 2 and "asks for a batch" in errors[3]["message"]
    assert "one request per photo" in errors[3]["hint"]
    assert errors[4]["id"] == 3 and "characters)" in errors[4]["message"]
