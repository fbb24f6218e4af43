"""What the fuzz tests draw (command lines: valid ones, and ones with a part replaced by
something wrong) and what they check (the promise: exit 0 with valid outputs, or exit 2
with one error line / event and nothing changed on disk).  Used by tests/test_fuzz.py."""

import collections
import json
import os
import re

import numpy as np
import pytest
from hypothesis import strategies as st
from PIL import Image

from conftest import read_glb, read_mesh

#: outputs that name an input (``--preview`` = the photo ...) or a name near the file
#: system's limit (results are committed as a whole, inputs never among the outputs);
#: IMG2MESH_FUZZ_COLLISIONS=0 leaves them out
OUTPUT_COLLISIONS = os.environ.get("IMG2MESH_FUZZ_COLLISIONS", "1") == "1"


def make_inputs(root, photo):
    """Inputs of every kind in ``root/in``: fine, damaged, missing, of the wrong kind."""
    src = root / "in"
    src.mkdir()
    cat = Image.open(photo("chelsea.png")).convert("RGB").resize((96, 64))
    cat.save(src / "cat.png")
    rgba = cat.convert("RGBA")
    alpha = np.zeros((64, 96), np.uint8)
    alpha[10:54, 20:76] = 255
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(src / "alpha.png")
    Image.new("RGB", (10, 10)).save(src / "tiny.png")
    (src / "notes.jpg").write_text("not a picture\n" * 20)
    cat.save(src / "full.jpg", quality=90)
    data = (src / "full.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(data[: len(data) // 3])
    os.remove(src / "full.jpg")
    (src / "folder.png").mkdir()
    Image.fromarray(alpha).save(src / "mask.png")
    Image.new("L", (96, 64), 0).save(src / "empty_mask.png")
    Image.new("L", (50, 50), 255).save(src / "square_mask.png")
    yy, xx = np.mgrid[0:64, 0:96]
    np.save(src / "depth.npy", (2.0 + 0.01 * xx + 0.005 * yy).astype(np.float32))
    np.save(src / "nan.npy", np.full((64, 96), np.nan, np.float32))
    np.save(src / "empty.npy", np.zeros((0, 0), np.float32))
    np.save(src / "square.npy", np.ones((50, 50), np.float32))
    Image.fromarray((1000 + 10 * xx).astype(np.uint16)).save(src / "depth16.png")
    (src / "model_empty").mkdir()
    (src / "model_config").mkdir()
    (src / "model_config" / "config.json").write_text("{}")
    (src / "a_file").write_text("x")
    return src


# ---------------------------------------------------------------- strategies

JUNK = st.sampled_from(["nan", "inf", "-inf", "1e999", "-1e999", "-1", "0", "1e-30", "1e30",
                        "abc", "", " ", "0x10", "1_0", "--", "-", "+5", "1e", "∞", "3.5",
                        "1" + "0" * 400, "-" + "9" * 400, "1" * 5000])
ANY_NUMBER = st.one_of(JUNK, JUNK, JUNK,
                       st.floats(allow_nan=True, allow_infinity=True).map(repr),
                       st.integers(-10 ** 20, 10 ** 20).map(str))


def _in(*names):
    return st.sampled_from(names).map(lambda n: "{in}/" + n if n else "")


def _words(*values):
    return st.sampled_from(values)


#: option -> (valid values, other values); a clean case draws valid values only
OPTIONS = {
    "--size": (_words("2", "0.0001", "10000", "0.5"), ANY_NUMBER),
    "--fov": (_words("40", "1", "170", "60.5"), ANY_NUMBER),
    "--thickness": (_words("0.5", "0.01", "10", "1"), ANY_NUMBER),
    "--depth-scale": (_words("1", "0.5", "2"), ANY_NUMBER),
    "--max-size": (_words("64", "32", "48", "8192"), ANY_NUMBER),
    "--poisson-depth": (_words("5", "6"), st.one_of(_words("4", "13", "6.0"), JUNK)),
    "--target-faces": (_words("4", "50", "100000"), ANY_NUMBER),
    "--guidance": (_words("0", "7.5", "50"), ANY_NUMBER),
    "--steps": (_words("1", "2", "200"), ANY_NUMBER),
    "--seed": (_words("0", "42", str(2 ** 63 - 1)), ANY_NUMBER),
    "--image-size": (_words("512", "64x64", "768x512"), _words("7x7", "x", "", "1e3", "2056")),
    "--mesher": (_words("grid", "poisson", "auto"), _words("marching", "")),
    "--back": (_words("open", "flat", "mirror"), _words("round", "")),
    "--frame": (_words("blender", "camera"), _words("world", "")),
    "--device": (_words("auto", "cpu"), _words("cuda", "mps", "tpu", "")),
    "--depth-kind": (_words("auto", "metric", "relative"), _words("inverse", "")),
    "--depth-map": (_in("depth.npy", "depth16.png"),
                    _in("nan.npy", "empty.npy", "square.npy", "notes.jpg", "missing.npy", "")),
    "--models-dir": (_in("model_empty"), _in("a_file", "")),
    "--prompt-template": (_words("{prompt}, studio photo"), _words("no placeholder", "")),
    "--negative-prompt": (_words("blurry"), st.text(max_size=5)),
    "--depth-model": (_words("inflate", "auto"), st.one_of(
        _words("no-such-model", "org/name", "a/b/c", "", "glpn-nyu"),
        _in("model_empty", "model_config", "nowhere/model"))),
    "--preview": (_words("{out}/p.png", "{out}/m.png"),
                  _words("{out}/p.jpg", "{out}/x/p.png", "{out}/", "")),
    "--mask": (_in("mask.png"), _in("empty_mask.png", "square_mask.png", "notes.jpg", "")),
}
NUMERIC = ("--size", "--fov", "--thickness", "--depth-scale", "--max-size", "--poisson-depth",
           "--target-faces", "--guidance", "--steps", "--seed")
FILES = ("--depth-map", "--mask", "--depth-model", "--preview", "--models-dir")
FLAG_WORDS = ("--json", "-q", "--offline", "--js", "--keep-background")
INPUTS = (_in("cat.png", "cat.png", "alpha.png"), st.one_of(
    _in("tiny.png", "notes.jpg", "truncated.jpg", "folder.png", "missing.png",
        "bad\udcffname.png", "nul\0.png").map(lambda a: [a]),
    _words([], [""], ["-"], ["--prompt", "a mug"], ["--prompt", ""],
           ["{in}/cat.png", "--prompt", "x"], ["--download", "u2netp"], ["--download", ""],
           ["{in}/cat.png", "{in}/cat.png"])))
OUTPUTS = (_words("{out}/m.ply", "{out}/m.obj", "{out}/m.glb", "{out}/M.PLY"),
           _words("{out}/m.stl", "{out}/", "{out}/sub/m.ply", "{in}/a_file/m.ply", ""))
#: ("{input}": this command's photo; "{mask}": its --mask, else the photo)
COLLIDING = _words(["--preview", "{input}"], ["-o", "{in}/depth.npy"],
                   ["-o", "{out}/" + "a" * 240 + ".ply"], ["--preview", "{mask}"])


@st.composite
def command_lines(draw):
    """A valid command line (the fast paths), or one with one to three parts replaced by
    something wrong: the input, the output, an option's value, an extra flag."""
    first, output, argv = [draw(INPUTS[0])], draw(OUTPUTS[0]), []
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=5, unique=True))
    if "--mask" not in chosen:
        argv.append("--keep-background")
    if "--depth-model" not in chosen:
        argv += ["--depth-model", "inflate"]
    for name in chosen:
        argv += [name, draw(OPTIONS[name][0])]
    mode = draw(st.sampled_from(["clean", "number", "number", "file", "file", "other"]))
    if mode == "number":  # one numeric option given something that may not be a number
        argv += [draw(st.sampled_from(NUMERIC)), draw(ANY_NUMBER)]
    elif mode == "file":  # one file or folder that is wrong
        part = draw(st.sampled_from(["input", "output"] + list(FILES)))
        if part == "input":
            bad = draw(INPUTS[1])
            first = bad if isinstance(bad, list) else [bad]
        elif part == "output":
            output = draw(OUTPUTS[1])
        else:
            argv += [part, draw(OPTIONS[part][1])]
    for _ in range(draw(st.integers(1, 2)) if mode == "other" else 0):
        part = draw(st.sampled_from(["input", "output", "option", "option", "flag"]))
        if part == "input":
            bad = draw(INPUTS[1])
            first = bad if isinstance(bad, list) else [bad]
        elif part == "output":
            output = draw(OUTPUTS[1])
        elif part == "option":  # the last one given wins
            name = draw(st.sampled_from(sorted(OPTIONS)))
            argv += [name, draw(OPTIONS[name][1])]
        else:
            argv.append(draw(st.sampled_from(["--bogus", "-x", "--size", "--json=1",
                                              "--mask"])))
    argv = first + ["-o", output] + argv
    if OUTPUT_COLLISIONS and first and isinstance(first[0], str):
        mask = argv[argv.index("--mask") + 1] if "--mask" in argv[:-1] else first[0]
        argv += [a.replace("{input}", first[0]).replace("{mask}", mask)
                 for a in draw(st.one_of(st.just([]), COLLIDING))]
    return argv + draw(st.lists(st.sampled_from(FLAG_WORDS), max_size=3))


def fill(argv, src, out):
    return [a.replace("{in}", str(src)).replace("{out}", str(out)) for a in argv]


# ---------------------------------------------------------------- the promise


def entries(*folders):
    """``(path, lstat)`` of everything under ``folders``."""
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = os.path.join(root, name)
                yield path, os.lstat(path)


def snapshot(*folders):
    return {path: (os.path.isdir(path), st_.st_size, st_.st_mtime_ns)
            for path, st_ in entries(*folders)}


def strict_json(text):
    def refuse(name):
        raise AssertionError(f"{name} in JSON output")

    return json.loads(text, parse_constant=refuse)


PROGRESS = re.compile(r"^\s*\d+%  |^warning: ")


def check_promise(code, stdout, stderr, before, after, as_json):
    """The promise for one run; returns 'ok' or 'refused'."""
    assert code in (0, 2), f"exit {code}: {stderr[-2000:]}"
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-2000:]
    events = [strict_json(ln) for ln in stdout.splitlines() if ln.strip()]
    if as_json:
        assert events and events[0]["event"] == "start"
        ends = [e for e in events if e["event"] in ("result", "error")]
        assert len(ends) == 1 and ends[0] is events[-1], events[-3:]
        fractions = [e["fraction"] for e in events if e["event"] == "progress"]
        assert all(0 <= f <= 1 for f in fractions) and fractions == sorted(fractions)
        assert events[-1]["event"] == ("result" if code == 0 else "error")
        assert events[-1].get("kind") != "internal"
    else:
        assert stdout == ""
    if code == 2:
        assert before == after, "a failed run changed the disk"
        if not as_json:
            lines = [ln for ln in stderr.splitlines() if ln.strip()]
            errors = [ln for ln in lines if ln.startswith("error:")]
            assert len(errors) == 1, stderr
            assert all(ln in errors or PROGRESS.match(ln) for ln in lines), stderr
        return "refused"
    assert not [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    created = {p for p in after if p not in before}
    changed = {p for p in before if p in after and before[p] != after[p]}
    assert not {p for p in before if p not in after}, "a run deleted files"
    assert all(os.path.basename(p)[:1] != "." for p in created), f"temp files: {created}"
    return ("ok", created | changed)


def read_any_mesh(path):
    return read_glb(path) if path.lower().endswith(".glb") else read_mesh(path)


def check_outputs(touched, result):
    """What a successful run wrote: the files it names, complete and valid."""
    if result is not None and "download" in result:
        assert os.path.exists(result["path"])
        return
    meshes = [p for p in touched if p.lower().endswith((".ply", ".obj", ".glb"))]
    sidecars = [p for p in touched if p.endswith(".json")]
    assert len(meshes) == 1 and len(sidecars) == 1, touched
    side = strict_json(open(sidecars[0], encoding="utf-8").read())
    assert side["vertices"] > 0 and side["faces"] > 0
    assert os.path.realpath(side["mesh"]) == os.path.realpath(meshes[0])
    assert set(map(os.path.realpath, side["outputs"])) == set(map(os.path.realpath, touched))
    assert all(np.isfinite(b).all() for b in side["bounds"])
    if result is not None:
        assert result["vertices"] == side["vertices"]
    V, T, _ = read_any_mesh(meshes[0])
    assert len(T) == side["faces"]
    assert len(V) == side["vertices"] or meshes[0].lower().endswith(".obj")  # (open3d's
    # OBJ reader drops vertices no triangle uses)
    assert np.isfinite(V).all(), "vertices at NaN or infinity"
    extent = V.max(axis=0) - V.min(axis=0)
    assert (extent > 1e-6 * extent.max()).sum() >= 2, f"a degenerate mesh: extent {extent}"
    if side["frame"] == "blender":
        assert extent.max() == pytest.approx(side["size"], rel=1e-3)


_runs = collections.Counter()


def fresh_out(root):
    _runs["n"] += 1
    out = root / f"out{_runs['n']}"
    out.mkdir()
    (out / "keep.txt").write_text("not ours\n")
    return out


def check_batch(code, stdout, stderr, before, after, as_json):
    """The promise of a command line that became a batch (``-o`` an existing folder, a
    folder or glob as input): exit 0 or 2, never a traceback; with --json valid events
    ending in the ``batch`` summary; a failed photo leaves nothing but its manifest line
    (``manifest.jsonl``), no temporary file."""
    assert code in (0, 2), f"exit {code}: {stderr[-2000:]}"
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-2000:]
    events = [strict_json(ln) for ln in stdout.splitlines() if ln.strip()]
    if as_json and events and events[-1]["event"] != "error":  # (an argument error)
        assert events[-1]["event"] == "batch", events[-3:]
        assert (events[-1]["failed"] > 0) == (code == 2)
    created = {p for p in after if p not in before}
    assert all(os.path.basename(p)[:1] != "." for p in created), f"temp files: {created}"
    if code == 2:
        assert {os.path.basename(p) for p in created} <= {"manifest.jsonl"}, created
    return "batch"


def run_case(world, argv, runner):
    from blender_img2mesh.pipeline.batch import plan as batch_plan

    src, out = world / "in", fresh_out(world)
    argv = fill(argv, src, out)
    as_json = any(a in ("--json", "--js") for a in argv)
    before, inputs = snapshot(src, out), snapshot(src)
    code, stdout, stderr = runner(argv)
    assert snapshot(src) == inputs, "the inputs were changed"  # (outputs never go there)
    if batch_plan.is_batch([a for a in argv if isinstance(a, str)]):
        return check_batch(code, stdout, stderr, before, snapshot(src, out), as_json)
    outcome = check_promise(code, stdout, stderr, before, snapshot(src, out), as_json)
    if outcome != "refused":
        result = strict_json(stdout.splitlines()[-1]) if as_json else None
        if result is None and "--download" in argv:  # a model fetched: no mesh, nothing
            assert outcome[1] == set(), outcome[1]   # written beside the inputs or in -o
        else:
            check_outputs(outcome[1], result)
        outcome = "ok"
    return outcome
