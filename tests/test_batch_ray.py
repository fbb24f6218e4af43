"""The batch on a real Ray cluster of two nodes on this machine (ray.cluster_utils.Cluster,
as Ray's own tests make one): both nodes work, the results are the local batch's, a worker
process that dies mid-batch loses no photo."""

import json
import os
import shutil

import pytest

from conftest import json_lines

FAST = ["--depth-model", "inflate", "--max-size", "96", "--keep-background"]
NAMES = ["astronaut", "chelsea", "coffee", "grace_hopper", "rocket", "hubble_deep_field"]


@pytest.fixture(scope="module")
def crash_marker(tmp_path_factory):
    return tmp_path_factory.mktemp("crash") / "chelsea-crashed"


@pytest.fixture(scope="module")
def cluster(crash_marker):
    """Two nodes of one CPU each; their worker processes exit (once) on chelsea.png and
    every time on doomed.png (batch_ray's test hook, read from the environment they
    inherit)."""
    import ray
    from ray.cluster_utils import Cluster

    from blender_img2mesh.pipeline.batch.on_ray import CRASH_ENV

    saved = os.environ.get(CRASH_ENV)
    os.environ[CRASH_ENV] = f"chelsea.png:{crash_marker},doomed.png"
    c = Cluster()
    try:
        c.add_node(num_cpus=1)
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()
        if saved is None:
            os.environ.pop(CRASH_ENV, None)
        else:
            os.environ[CRASH_ENV] = saved


@pytest.fixture
def photos(tmp_path, photo):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in NAMES:
        src = photo(name + (".jpg" if name in ("grace_hopper", "rocket", "hubble_deep_field")
                            else ".png"))
        shutil.copy(src, folder / os.path.basename(src))
    return folder


def _manifest(folder):
    with open(folder / "manifest.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _stages(events):
    """The stages a photo's progress events went through, in order."""
    out = []
    for e in events:
        if e["event"] == "progress" and (not out or out[-1] != e["stage"]):
            out.append(e["stage"])
    return out


def test_two_nodes_same_results_and_a_dead_worker_loses_nothing(cluster, crash_marker,
                                                                  photos, cli, mesh_reader):
    local, remote = photos.parent / "local", photos.parent / "remote"
    proc = cli([photos, "-o", local, "--json", *FAST])
    assert proc.returncode == 0, proc.stderr
    local_events = json_lines(proc.stdout)
    proc = cli([photos, "-o", remote, "--ray", cluster.address, "--json", *FAST])
    assert proc.returncode == 0, proc.stderr
    lines = _manifest(remote)
    assert sorted(r["name"] for r in lines) == sorted(NAMES)
    assert {r["status"] for r in lines} == {"ok"}
    # both nodes worked, in actor processes (not the driver)
    assert len({r["node"] for r in lines}) == 2
    assert all(r["node"] for r in lines)
    # the worker died on chelsea.png once: the photo was tried again and made it
    assert crash_marker.exists()
    assert {r["name"]: r["attempts"] for r in lines}["chelsea"] == 2
    assert {r["attempts"] for r in lines if r["name"] != "chelsea"} == {1}
    # every result is the local batch's
    for name in NAMES:
        assert (remote / f"{name}.ply").read_bytes() == (local / f"{name}.ply").read_bytes()
        assert (remote / f"{name}_texture.jpg").read_bytes() == \
            (local / f"{name}_texture.jpg").read_bytes()
        a, b = (json.loads((d / f"{name}.json").read_text()) for d in (local, remote))
        assert (a["vertices"], a["faces"], a["bounds"]) == (b["vertices"], b["faces"],
                                                            b["bounds"])
        V, T, _ = mesh_reader(remote / f"{name}.ply")
        assert len(V) == b["vertices"] and len(T) == b["faces"]
    assert not [f for f in os.listdir(remote) if f.startswith(".")]
    events = json_lines(proc.stdout)
    assert sorted(e["input"] for e in events if e["event"] == "photo") == \
        sorted(r["input"] for r in lines)
    # the actors' per-stage events reach the driver, tagged like the local batch's, each
    # before its photo's end
    for name in NAMES:
        path = next(str(p) for p in photos.iterdir() if p.stem == name)
        mine = [e for e in events if e.get("input") == path]
        theirs = [e for e in local_events if e.get("input") == path]
        assert [e["event"] for e in mine][-2:] == ["result", "photo"]
        assert _stages(mine) == _stages(theirs)
        assert {"load", "depth", "surface", "export"} <= set(_stages(mine))
        assert {e["photo"] for e in mine} == {e["photo"] for e in theirs}
        assert [e["fraction"] for e in mine if e["event"] == "progress"] == \
            sorted(e["fraction"] for e in mine if e["event"] == "progress")
        assert set(mine[-2]) == set(theirs[-2])  # the result: the same fields
    assert events[-1]["event"] == "batch" and events[-1]["ok"] == len(NAMES)
    # run again on the cluster: everything is there already
    again = cli([photos, "-o", remote, "--ray", cluster.address, *FAST])
    assert again.returncode == 0, again.stderr
    assert {r["status"] for r in _manifest(remote)[len(NAMES):]} == {"skipped"}


def test_a_photo_that_kills_its_worker_twice_fails_alone(cluster, photos, cli):
    shutil.copy(photos / "coffee.png", photos / "doomed.png")
    out = photos.parent / "out"
    proc = cli([photos / "doomed.png", photos / "coffee.png", photos / "rocket.jpg", "-o", out,
                "--ray", cluster.address, "--ray-actors", "2", *FAST])
    assert proc.returncode == 2, proc.stderr
    by = {r["name"]: r for r in _manifest(out)}
    assert by["doomed"]["status"] == "failed" and by["doomed"]["attempts"] == 2
    assert "died 2 times" in by["doomed"]["error"]["message"]
    assert by["coffee"]["status"] == by["rocket"]["status"] == "ok"
    assert [line for line in proc.stderr.splitlines() if " failed " in line] == \
        [line for line in proc.stderr.splitlines() if "doomed.png" in line and "failed" in line]
    assert not (out / "doomed.ply").exists()


def _processes_under(folder):
    """Pids of the processes whose command line mentions ``folder``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if folder.encode() in fh.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("name,code", [("SIGTERM", 143), ("SIGINT", 130), ("SIGHUP", 129)])
def test_a_signal_ends_a_ray_batch_like_a_local_one(tmp_path, photos, name, code):
    """Issue 22: SIGTERM/SIGINT/SIGHUP to a ``--ray`` driver (its own Ray on this machine)
    while the actors convert: exit 143/130/129 (Ray's own SIGTERM handler does not
    replace the batch's), the ``batch`` event says interrupted, no ``.partial`` file is
    left and none of the Ray processes it started survives it."""
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    from conftest import REPO

    ray_tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")  # (Ray's socket paths are short)
    out = tmp_path / "out"
    env = {**os.environ, "RAY_TMPDIR": ray_tmp}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "blender_img2mesh", str(photos), "-o",
                             str(out), "--ray", "--ray-actors", "2", "--json", *FAST],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=env)
    try:
        lines = []
        for line in proc.stdout:  # until an actor reports a stage of a photo
            lines.append(line)
            event = json.loads(line)
            if event["event"] == "progress" and "photo" in event:
                break
        proc.send_signal(getattr(signal, name))
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err[-2000:]
    events = [json.loads(ln) for ln in lines + rest.splitlines() if ln.strip()]
    assert events[-1]["event"] == "batch" and events[-1]["interrupted"] is True
    assert not [f for f in os.listdir(out) if f.startswith(".")], os.listdir(out)
    deadline = time.time() + 30
    while _processes_under(ray_tmp) and time.time() < deadline:
        time.sleep(0.5)
    assert _processes_under(ray_tmp) == [], "Ray processes left behind"
    shutil.rmtree(ray_tmp, ignore_errors=True)


def test_a_killed_ray_driver_leaves_no_ray_processes(tmp_path, photos):
    """SIGKILL (nothing can be cleaned up by the driver itself): the Ray it started on
    this machine dies with it."""
    import subprocess
    import sys
    import tempfile
    import time

    from conftest import REPO

    ray_tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")
    env = {**os.environ, "RAY_TMPDIR": ray_tmp}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-m", "blender_img2mesh", str(photos), "-o",
                             str(tmp_path / "out"), "--ray", "--json", *FAST],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=REPO, env=env)
    try:
        for line in proc.stdout:
            if json.loads(line)["event"] == "progress" and "photo" in json.loads(line):
                break
        assert _processes_under(ray_tmp), "the Ray of this driver is running"
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.time() + 60
    while _processes_under(ray_tmp) and time.time() < deadline:
        time.sleep(0.5)
    assert _processes_under(ray_tmp) == [], "Ray processes left behind"
    shutil.rmtree(ray_tmp, ignore_errors=True)
