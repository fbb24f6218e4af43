"""Shared helpers for the Blender-side tests (no pytest fixtures here)."""

import glob
import os
import tempfile
import time

import numpy as np

# the photo and the grid mesh are the benchmarks' fixtures too (one copy); conftest.py
# puts the repository on sys.path
from benchmarks.fixtures import grid_mesh, photo  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
PIPELINE_PYTHON = os.path.join(REPO, ".venv", "bin", "python")
FAKE_PYTHON = os.path.join(HERE, "fake_python")
HEAVY = ("torch", "open3d", "transformers", "rembg")


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


def write_textured_ply(path, verts, faces, uv=None, colors=None, texture=None,
                       uv_names=("s", "t")):
    """A binary little-endian PLY as the pipeline writes it with a texture: ``x y z``,
    then the UVs (``uv_names``), then ``red green blue``; ``comment TextureFile`` names
    ``texture`` (a file name in the PLY's folder)."""
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if uv is not None:
        fields += [(uv_names[0], "<f4"), (uv_names[1], "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    arr = np.empty(len(verts), np.dtype(fields))
    arr["x"], arr["y"], arr["z"] = verts[:, 0], verts[:, 1], verts[:, 2]
    if uv is not None:
        arr[uv_names[0]], arr[uv_names[1]] = uv[:, 0], uv[:, 1]
    if colors is not None:
        arr["red"], arr["green"], arr["blue"] = colors[:, 0], colors[:, 1], colors[:, 2]
    types = {"<f4": "float", "u1": "uchar"}
    head = ["ply", "format binary_little_endian 1.0", "comment made by a test"]
    if texture:
        head.append(f"comment TextureFile {texture}")
    head.append(f"element vertex {len(verts)}")
    head += [f"property {types[t]} {n}" for n, t in fields]
    head += [f"element face {len(faces)}", "property list uchar int vertex_indices",
             "end_header"]
    farr = np.empty(len(faces), np.dtype([("n", "u1"), ("v", "<i4", (3,))]))
    farr["n"], farr["v"] = 3, faces
    with open(path, "wb") as f:
        f.write(("\n".join(head) + "\n").encode())
        f.write(arr.tobytes())
        f.write(farr.tobytes())


def write_png(path, rgb):
    """An 8-bit RGB PNG of ``rgb`` (H, W, 3) uint8, first row at the top (zlib only: the
    bpy venv has no Pillow, and the reader under test should not be the writer)."""
    import struct
    import zlib

    h, w = rgb.shape[:2]
    raw = b"".join(b"\0" + np.ascontiguousarray(row, np.uint8).tobytes() for row in rgb)

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def textured_grid(folder, n=9, image=None, name="grid", texture_name="grid_texture.png",
                  **kw):
    """An upright n x n grid (x right, z up, facing -Y) whose UVs map the image onto it
    (u = x, v = z: the image's top row at the top), its colors, and the texture file
    (``image``: an (H, W, 3) uint8 array, else a small pattern) in ``folder``.
    Returns (ply path, verts, uv, colors, tris)."""
    verts, colors, tris = grid_mesh(n)
    verts = verts * n / (n - 1)  # 0..1 on both axes
    uv = np.column_stack([verts[:, 0], verts[:, 2]]).astype(np.float32)
    if image is None:
        image = np.zeros((8, 16, 3), np.uint8)
        image[:, :, 0] = np.arange(16)[None, :] * 16  # red grows to the right
        image[:4, :, 2] = 255  # blue top half
    write_png(os.path.join(folder, texture_name), image)
    path = os.path.join(folder, name + ".ply")
    write_textured_ply(path, verts, tris, uv, colors, texture_name, **kw)
    return path, verts, uv, colors, tris


def write_glb(path, verts, faces, uv, png_path):
    """A minimal glTF 2.0 binary: one textured triangle mesh (Blender's Z-up ``verts``
    written Y-up; UVs written with glTF's top-left origin), the PNG embedded."""
    import json
    import struct

    pos = np.column_stack([verts[:, 0], verts[:, 2], -verts[:, 1]]).astype("<f4")
    tex = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]).astype("<f4")
    idx = np.asarray(faces, "<u4").reshape(-1)
    with open(png_path, "rb") as f:
        png = f.read()
    blobs, views = [pos.tobytes(), tex.tobytes(), idx.tobytes(), png], []
    binary = b""
    for blob in blobs:
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(blob)})
        binary += blob + b"\0" * (-len(blob) % 4)
    doc = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}], "buffers": [{"byteLength": len(binary)}], "bufferViews": views,
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(pos), "type": "VEC3",
             "min": pos.min(0).tolist(), "max": pos.max(0).tolist()},
            {"bufferView": 1, "componentType": 5126, "count": len(tex), "type": "VEC2"},
            {"bufferView": 2, "componentType": 5125, "count": len(idx), "type": "SCALAR"}],
        "images": [{"bufferView": 3, "mimeType": "image/png"}],
        "samplers": [{}], "textures": [{"source": 0, "sampler": 0}],
        "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1},
                                    "indices": 2, "material": 0}]}]}
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    with open(path, "wb") as f:
        f.write(struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + 8 + len(binary)))
        f.write(struct.pack("<I4s", len(text), b"JSON") + text)
        f.write(struct.pack("<I4s", len(binary), b"BIN\0") + binary)


def write_obj(path, verts, faces, uv, image_name):
    """An .obj (Y up, as Blender's importer expects by default) + .mtl whose ``map_Kd``
    is ``image_name`` (beside it)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    lines = [f"mtllib {stem}.mtl", "o textured"]
    lines += [f"v {x:.7g} {z:.7g} {-y:.7g}" for x, y, z in verts]
    lines += [f"vt {u:.7g} {v:.7g}" for u, v in uv]
    lines.append("usemtl photo")
    lines += ["f " + " ".join(f"{i + 1}/{i + 1}" for i in face) for face in faces]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(os.path.dirname(path), stem + ".mtl"), "w") as f:
        f.write(f"newmtl photo\nKd 1 1 1\nmap_Kd {image_name}\n")


def glb_json(path):
    """The JSON chunk of a .glb file."""
    import json
    import struct

    with open(path, "rb") as f:
        data = f.read()
    length, kind = struct.unpack("<I4s", data[12:20])
    assert data[:4] == b"glTF" and kind == b"JSON", f"{path} is not a binary glTF"
    return json.loads(data[20:20 + length])


def overlapping_pairs(objects):
    """The pairs of ``objects`` whose world bounding boxes overlap (by their names)."""
    import itertools

    from blender_img2mesh.blender.scene import placement

    pairs = []
    for a, b in itertools.combinations(objects, 2):
        (alo, ahi), (blo, bhi) = placement.world_bounds(a), placement.world_bounds(b)
        if all(alo[i] < bhi[i] and blo[i] < ahi[i] for i in range(3)):
            pairs.append((a.name, b.name))
    return pairs


def run_in_window(script, args, tmp_path, timeout=400, screen="1600x900"):
    """Run ``script`` (a tests/blender/gui_*.py, see gui_window.py) in a real, windowed
    Blender under Xvfb, on a saved startup scene (opening a .blend keeps the splash
    screen away); the CompletedProcess.  Needs Debian's ``blender`` and ``xvfb-run``."""
    import shutil
    import subprocess

    blender, xvfb = shutil.which("blender"), shutil.which("xvfb-run")
    assert blender and xvfb, "needs the blender binary and xvfb-run (apt-get install blender xvfb)"
    env = dict(os.environ, IMG2MESH_PYTHON=PIPELINE_PYTHON)
    start = os.path.join(str(tmp_path), "start.blend")
    subprocess.run([blender, "-b", "--factory-startup", "--python-expr",
                    f"import bpy; bpy.ops.wm.save_as_mainfile(filepath={start!r})"],
                   check=True, capture_output=True, timeout=120, env=env)
    return subprocess.run(
        [xvfb, "-a", "-s", f"-screen 0 {screen}x24", blender, "--factory-startup", start,
         "-P", os.path.join(HERE, script), "--", *[str(a) for a in args]],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
