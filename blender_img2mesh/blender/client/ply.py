"""A small, fast PLY reader (numpy only, no bpy): what the add-on imports.

Reads binary little/big-endian and ASCII PLY files with a ``vertex`` element (``x y z``
and optionally ``red green blue`` and UVs ``s t`` or ``texture_u texture_v``, in any order,
any scalar types; the texture image named by a ``comment TextureFile NAME`` header line, as
MeshLab writes it, relative to the PLY's folder) and a ``face`` element
with a list property ``vertex_indices`` (or ``vertex_index``).  Triangle-only files -- what
the pipeline writes -- are read with a single structured ``np.frombuffer``; other faces go
through a slower but still vectorised path.
"""

import os

import numpy as np

_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
#: the UV property pairs understood, in order of preference
_UV_NAMES = (("s", "t"), ("texture_u", "texture_v"))


class PlyError(ValueError):
    """The file is not a PLY this reader understands."""


class PlyMesh:
    """``vertices`` (N, 3) float32; ``colors`` (N, 3) uint8 or None (as stored: sRGB);
    ``loop_start``/``loop_total`` (F,) int32 and ``indices`` (L,) int32 for the faces;
    ``uv`` (N, 2) float32 or None (origin bottom-left, as Blender's); ``texture_file`` the
    absolute path the header names (it may not exist) or None."""

    def __init__(self, vertices, colors, loop_start, loop_total, indices, uv=None,
                 texture_file=None):
        self.vertices, self.colors = vertices, colors
        self.loop_start, self.loop_total, self.indices = loop_start, loop_total, indices
        self.uv, self.texture_file = uv, texture_file

    @property
    def triangles(self):
        """(F, 3) view when every face is a triangle, else None."""
        if len(self.loop_total) and not np.all(self.loop_total == 3):
            return None
        return self.indices.reshape(-1, 3)


def _parse_header(data):
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise PlyError("not a PLY file (no 'ply' magic or no 'end_header')")
    nl = data.find(b"\n", end)
    body = nl + 1 if nl >= 0 else len(data)
    fmt, elements, texture = None, [], None
    for raw in data[:end].decode("utf-8", "replace").splitlines()[1:]:
        words = raw.split()
        if len(words) > 2 and words[0] == "comment" and words[1] == "TextureFile":
            texture = raw.split("TextureFile", 1)[1].strip()  # a name may hold spaces
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            elements.append({"name": words[1], "count": int(words[2]), "props": []})
        elif words[0] == "property" and elements:
            if words[1] == "list":
                elements[-1]["props"].append((words[4], _t(words[2]), _t(words[3])))
            else:
                elements[-1]["props"].append((words[2], _t(words[1]), None))
    if fmt not in ("binary_little_endian", "binary_big_endian", "ascii"):
        raise PlyError(f"unsupported PLY format: {fmt}")
    return fmt, elements, body, texture


def _t(name):
    try:
        return _TYPES[name]
    except KeyError:
        raise PlyError(f"unknown PLY property type: {name}") from None


def _read_binary_element(data, pos, el, order):
    """Returns ({name: array}, new position)."""
    props, count = el["props"], el["count"]
    if all(p[2] is None for p in props):  # scalars only: one structured read
        dt = np.dtype([(p[0], order + p[1]) for p in props])
        arr = np.frombuffer(data, dt, count, pos)
        return {p[0]: arr[p[0]] for p in props}, pos + dt.itemsize * count
    if len(props) == 1:  # the usual face element: one list property
        name, count_t, item_t = props[0]
        ct, it = np.dtype(order + count_t), np.dtype(order + item_t)
        if count:
            n0 = int(np.frombuffer(data, ct, 1, pos)[0])
            dt = np.dtype([("n", ct), ("v", it, (n0,))])
            if pos + dt.itemsize * count <= len(data):
                arr = np.frombuffer(data, dt, count, pos)
                if np.all(arr["n"] == n0):  # every face has n0 corners
                    total = np.full(count, n0, np.int32)
                    return {name: (total, arr["v"].reshape(-1))}, pos + dt.itemsize * count
        return _read_varlist(data, pos, count, name, ct, it)
    raise PlyError(f"element '{el['name']}' mixes list and other properties")


def _read_varlist(data, pos, count, name, ct, it):
    """Faces of mixed sizes: walk the counts (one small loop), then gather vectorised."""
    totals = np.empty(count, np.int64)
    starts = np.empty(count, np.int64)
    p = pos
    for i in range(count):
        n = int(np.frombuffer(data, ct, 1, p)[0])
        totals[i], starts[i] = n, p + ct.itemsize
        p += ct.itemsize + n * it.itemsize
    if p > len(data):
        raise ValueError("truncated")
    flat = np.repeat(starts, totals) + it.itemsize * (
        np.arange(int(totals.sum())) - np.repeat(np.cumsum(totals) - totals, totals))
    raw = np.frombuffer(data, np.uint8)
    if len(flat):
        b = raw[flat[:, None] + np.arange(it.itemsize)].copy()
        values = b.view(it).reshape(-1)
    else:
        values = np.empty(0, it)
    return {name: (totals.astype(np.int32), values)}, p


def _read_ascii(data, body, elements):
    lines = iter(data[body:].decode("ascii", "replace").splitlines())
    out = {}
    for el in elements:
        rows = [next(lines).split() for _ in range(el["count"])]
        cols = {}
        if all(p[2] is None for p in el["props"]):
            arr = np.array(rows, dtype=np.float64).reshape(el["count"], len(el["props"]))
            for k, p in enumerate(el["props"]):
                cols[p[0]] = arr[:, k].astype(p[1])
        else:
            name = el["props"][0][0]
            totals = np.array([int(r[0]) for r in rows], np.int32)
            vals = np.array([int(v) for r in rows for v in r[1:1 + int(r[0])]], np.int64)
            cols[name] = (totals, vals)
        out[el["name"]] = cols
    return out


def read_ply(path):
    """Read ``path`` into a :class:`PlyMesh`."""
    with open(path, "rb") as f:
        data = f.read()
    fmt, elements, body, texture = _parse_header(data)
    if fmt == "ascii":
        tables = _read_ascii(data, body, elements)
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        tables, pos = {}, body
        for el in elements:
            try:
                tables[el["name"]], pos = _read_binary_element(data, pos, el, order)
            except ValueError as exc:
                if isinstance(exc, PlyError):
                    raise
                raise PlyError(f"PLY file is truncated in element '{el['name']}'") from None
    vert = tables.get("vertex")
    if vert is None or not all(k in vert for k in "xyz"):
        raise PlyError("PLY file has no vertex element with x, y, z")
    vertices = np.column_stack([vert["x"], vert["y"], vert["z"]]).astype(np.float32)
    colors = None
    if all(k in vert for k in ("red", "green", "blue")):
        rgb = np.column_stack([vert["red"], vert["green"], vert["blue"]])
        if rgb.dtype.kind == "f":  # some writers store 0..1 floats
            rgb = np.clip(rgb * 255.0 + 0.5, 0, 255)
        colors = rgb.astype(np.uint8)
    uv = next((np.column_stack([vert[u], vert[v]]).astype(np.float32)
               for u, v in _UV_NAMES if u in vert and v in vert), None)
    if texture:
        texture = os.path.join(os.path.dirname(os.path.abspath(path)), texture)
    face = tables.get("face", {})
    lst = face.get("vertex_indices") or face.get("vertex_index")
    if lst is None:
        totals, indices = np.zeros(0, np.int32), np.zeros(0, np.int32)
    else:
        totals, indices = lst[0].astype(np.int32), np.asarray(lst[1]).astype(np.int32)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(vertices)):
        raise PlyError("PLY face refers to a vertex that does not exist")
    starts = (np.cumsum(totals, dtype=np.int64) - totals).astype(np.int32)
    return PlyMesh(vertices, colors, starts, totals, indices, uv, texture or None)


def srgb_to_linear(rgb8):
    """sRGB-encoded uint8 (N, 3) -> linear float32 (N, 3) in 0..1 (IEC 61966-2-1)."""
    table = np.arange(256, dtype=np.float64) / 255.0
    table = np.where(table <= 0.04045, table / 12.92, ((table + 0.055) / 1.055) ** 2.4)
    return table.astype(np.float32)[rgb8]
