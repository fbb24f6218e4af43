"""Shared helpers for the Blender-side tests (no pytest fixtures here)."""

import glob
import os
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
PIPELINE_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
FAKE_PYTHON = os.path.join(HERE, "fake_python")
HEAVY = ("torch", "open3d", "transformers", "rembg")


def photo(name="coffee.png"):
    """A real photo shipped by scikit-image in the pipeline's venv."""
    found = glob.glob(os.path.join(REPO, ".venv", "lib", "python3*", "site-packages",
                                   "skimage", "data", name))
    assert found, f"{name} not found: install the pipeline venv (.venv) first"
    return found[0]


def models_dir():
    """Where scripts/setup.sh (scripts/get_models.py) puts the models: the pipeline's own
    default, ``$IMG2MESH_MODELS`` else ``~/.cache/blender_img2mesh/models``."""
    from blender_img2mesh.pipeline.models import default_models_dir

    return default_models_dir()


def segment_kwargs():
    """The generate operator's settings for the real u2netp segmenter, offline.  Missing
    weights fail the test (never a quiet run without background removal)."""
    weights = os.path.join(models_dir(), "u2netp.onnx")
    assert os.path.isfile(weights), (f"{weights} is missing: run 'python "
                                     "scripts/get_models.py' (scripts/setup.sh does)")
    return dict(remove_background=True, segmenter="u2netp", models_dir=models_dir(),
                offline=True)


def srgb_to_linear(c8):
    """Reference sRGB decode (written independently of the add-on's table)."""
    c = np.asarray(c8, np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()  # a zombie is dead
    except OSError:
        return False


def group_members(pgid):
    """Live processes (not zombies) whose process group is ``pgid``."""
    members = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.split("/")[2]))
    return members


def wait_until(predicate, timeout=60.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def temp_dirs():
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "img2mesh-*")))


def write_ply(path, verts, colors, faces, order=("x", "y", "z", "red", "green", "blue"),
              vtype="float", count_t="uchar", index_t="int", endian="<"):
    """A binary PLY with the vertex properties in ``order`` (lists of faces may vary)."""
    np_t = {"float": "f4", "double": "f8", "uchar": "u1", "int": "i4", "uint": "u4",
            "ushort": "u2"}
    cols = {"x": verts[:, 0], "y": verts[:, 1], "z": verts[:, 2],
            "red": colors[:, 0], "green": colors[:, 1], "blue": colors[:, 2]}
    dt = np.dtype([(n, endian + (np_t[vtype] if n in "xyz" else "u1")) for n in order])
    arr = np.empty(len(verts), dt)
    for n in order:
        arr[n] = cols[n]
    fmt = "binary_little_endian" if endian == "<" else "binary_big_endian"
    head = ["ply", f"format {fmt} 1.0", "comment test", f"element vertex {len(verts)}"]
    head += [f"property {vtype if n in 'xyz' else 'uchar'} {n}" for n in order]
    head += [f"element face {len(faces)}",
             f"property list {count_t} {index_t} vertex_indices", "end_header"]
    with open(path, "wb") as f:
        f.write(("\n".join(head) + "\n").encode())
        f.write(arr.tobytes())
        if isinstance(faces, np.ndarray) and faces.ndim == 2:  # fast path: equal sizes
            fdt = np.dtype([("n", endian + np_t[count_t]),
                            ("v", endian + np_t[index_t], (faces.shape[1],))])
            farr = np.empty(len(faces), fdt)
            farr["n"], farr["v"] = faces.shape[1], faces
            f.write(farr.tobytes())
            return
        for face in faces:
            f.write(np.array([len(face)], endian + np_t[count_t]).tobytes())
            f.write(np.array(face, endian + np_t[index_t]).tobytes())


def grid_mesh(n):
    """An n x n vertex grid: (n-1)^2 * 2 triangles, colors from the position."""
    ys, xs = np.mgrid[0:n, 0:n]
    verts = np.column_stack([xs.ravel() / n, np.zeros(n * n), ys.ravel() / n]).astype(np.float32)
    colors = np.column_stack([xs.ravel() * 255 // (n - 1), ys.ravel() * 255 // (n - 1),
                              np.full(n * n, 77)]).astype(np.uint8)
    i = (ys[:-1, :-1] * n + xs[:-1, :-1]).ravel()
    tris = np.concatenate([np.column_stack([i, i + 1, i + n + 1]),
                           np.column_stack([i, i + n + 1, i + n])])
    return verts, colors, tris.astype(np.int32)
