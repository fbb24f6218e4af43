"""The fuzzer's second half: names (inputs, outputs, folders, previews, stems that collide
with companions, control characters) and file kinds (regular, pipe, symlink, folder,
missing), and the naming and resume promises each generated case must keep (README
Guarantees: docs/guarantees.md).  The first half, numbers and flags: fuzz_cases.py."""

import os

from hypothesis import strategies as st
from PIL import Image

from fuzz_cases import entries

# ---------------------------------------------------------------- names and file kinds
#
# A folder w/ holding photos (of several file kinds) named like results' files, maybe an
# earlier result, and a run -- single or batch -- whose outputs go into w/ or o/, with
# names drawn to collide: stems of companions, previews on textures, control characters.

NAME_STEMS = ["a", "a_texture", "a_preview", "a_image", "b", "a.ply", "a\nb", "a\tb", "x y",
              "é"]
FILE_KINDS = ["regular", "regular", "regular", "pipe", "symlink", "folder", "missing"]


@st.composite
def name_cases(draw):
    """One scenario (a dict): ``files`` [(stem, ext, kind)], ``prior`` (stem, format,
    preview) or None, and the run: ``mode`` single (``input`` index, ``output`` (folder,
    stem, format), ``preview``) or batch (``inputs`` folder|files, ``out``, ``format``,
    ``preview`` None|True|"w")."""
    files = draw(st.lists(st.tuples(st.sampled_from(NAME_STEMS), st.sampled_from([".png",
                                                                                 ".jpg"]),
                                    st.sampled_from(FILE_KINDS)),
                          min_size=1, max_size=4, unique_by=lambda t: (t[0], t[1])))
    prior = draw(st.none() | st.tuples(st.sampled_from(NAME_STEMS[:5]),
                                       st.sampled_from(["ply", "obj", "glb"]), st.booleans()))
    case = {"files": files, "prior": prior, "mode": draw(st.sampled_from(["single", "single",
                                                                          "batch"]))}
    fmt = draw(st.sampled_from(["ply", "obj", "glb"]))
    if case["mode"] == "single":
        i = draw(st.integers(0, len(files) - 1))
        stem = files[i][0]
        out_stem = draw(st.sampled_from(NAME_STEMS + [f"{stem}_texture", stem, f"{stem}_preview"]))
        folder = draw(st.sampled_from(["w", "o"]))
        preview = draw(st.none() | st.sampled_from([
            f"{folder}/{out_stem}_preview.png", f"{folder}/{out_stem}_texture.png",
            f"w/{stem}{files[i][1]}", "o/p.png", f"w/{NAME_STEMS[0]}_texture.png"]))
        case.update(input=i, output=(folder, out_stem, fmt), preview=preview)
    else:
        case.update(inputs=draw(st.sampled_from(["folder", "files"])),
                    out=draw(st.sampled_from(["w", "o"])), format=fmt,
                    preview=draw(st.sampled_from([None, True, "w"])))
    return case


def _photo_file(path, source, ext):
    img = Image.open(source).convert("RGB")
    img.save(path, format="JPEG" if ext == ".jpg" else "PNG")


def build_name_case(root, case, source, run_single):
    """Make w/, o/ and the case's files (an earlier result first, made by
    ``run_single(argv)``); returns (w, o, the input paths as named)."""
    w, o = root / "w", root / "o"
    w.mkdir()
    o.mkdir()
    if case["prior"]:
        stem, fmt, preview = case["prior"]
        argv = [str(source), "-o", str(w / f"{stem}.{fmt}"), *NAME_FAST]
        if preview:
            argv += ["--preview", str(w / f"{stem}_preview.png")]
        run_single(argv)
    paths = []
    for stem, ext, kind in case["files"]:
        path = w / f"{stem}{ext}"
        paths.append(str(path))
        if os.path.lexists(path) or kind == "missing":
            continue
        if kind == "regular":
            _photo_file(path, source, ext)
        elif kind == "pipe":
            os.mkfifo(path)
        elif kind == "symlink":
            os.symlink(source, path)
        elif kind == "folder":
            path.mkdir()
    return w, o, paths


NAME_FAST = ["--depth-model", "inflate", "--max-size", "32", "--keep-background"]


def name_case_argv(case, w, o, paths):
    if case["mode"] == "single":
        folder, stem, fmt = case["output"]
        argv = [paths[case["input"]], "-o", os.path.join(root_of(w, o, folder), f"{stem}.{fmt}")]
        if case["preview"]:
            argv += ["--preview", os.path.join(str(w.parent), case["preview"])]
        return argv + NAME_FAST
    inputs = [str(w)] if case["inputs"] == "folder" else paths
    out = root_of(w, o, case["out"])
    argv = [*inputs, "-o", out, "--format", case["format"], *NAME_FAST]
    if case["preview"] is True:
        argv.append("--preview")
    elif case["preview"]:
        argv.append(f"--preview={w}")
    return argv


def root_of(w, o, name):
    return str(w if name == "w" else o)


def disk_state(*folders):
    """Every entry: bytes of regular files, a marker for the rest (never opened)."""
    import stat as stat_

    state = {}
    for path, st_ in entries(*folders):
        if stat_.S_ISREG(st_.st_mode):
            with open(path, "rb") as fh:
                state[path] = fh.read()
        else:
            state[path] = ("link", os.readlink(path)) if stat_.S_ISLNK(st_.st_mode) else \
                ("dir" if stat_.S_ISDIR(st_.st_mode) else "special")
    return state


def results_in(*folders):
    """``{sidecar: data}`` of the results (mesh present) in ``folders``."""
    from blender_img2mesh.pipeline.output import owners

    found = {}
    for folder in folders:
        for path, data in owners.sidecars(str(folder)).items():
            if os.path.isfile(data["mesh"]):
                found[path] = data
    return found


def photos_found(w, o):
    """The photos a batch over ``w`` takes (results' files passed over); call before the
    run."""
    from blender_img2mesh.pipeline.batch.discover import expand
    from blender_img2mesh.pipeline.errors import Img2MeshError

    try:
        return expand([str(w)], False, [str(w), str(o)])[0]
    except Img2MeshError:  # no photos there (only results' files, pipes ...): the run says so
        return []


def run_inputs(case, paths, w, o):
    """The files that are inputs of the run (computed before it)."""
    if case["mode"] == "single":
        return [paths[case["input"]]]
    return paths if case["inputs"] == "files" else photos_found(w, o)


def check_names_promise(case, code, stderr, before, after, prior, inputs, w, o):
    """The Guarantees for a scenario: exit 0/2, no traceback; inputs untouched; no
    temporary file; a refused single run changed nothing; every result on disk is
    complete and owns its names alone; an earlier result is untouched or replaced
    whole by the result of its mesh name."""
    from blender_img2mesh.pipeline.output import owners

    assert code in (0, 2), f"exit {code}: {stderr[-2000:]}"
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-2000:]
    for path in inputs:  # (a photo that is not an input of the run has no such promise)
        if path in before:
            assert after.get(path) == before[path], f"input changed: {path!r}"
    hidden = [p for p in after if os.path.basename(p).startswith(".")]
    assert not hidden, hidden
    if case["mode"] == "single" and code == 2:
        assert before == after, "a refused run changed the disk"
    results = results_in(w, o)
    claimed = {}
    for side, data in results.items():
        assert owners.complete(data, side), f"incomplete result {side}"
        for name in data["outputs"]:
            key = owners.key(name)
            assert key not in claimed, f"{name!r} owned by {claimed.get(key)} and {side}"
            claimed[key] = side
    for side, data in prior.items():
        old = {p: before.get(p) for p in data["outputs"]}
        if all(after.get(p) == b for p, b in old.items()):
            continue  # untouched
        new = results.get(side)
        assert new is not None and owners.key(new["mesh"]) == owners.key(data["mesh"]), \
            f"a part of {data['mesh']} was replaced by another result"
        for p in old:
            assert p in new["outputs"] or p not in after or p in inputs, \
                f"{p!r} of the old result stayed"
