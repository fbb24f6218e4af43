"""A minimal binary glTF 2.0 (.glb) writer: one mesh, positions, vertex colors, indices.

open3d writes .glb with its buffer as base64 text in the JSON chunk, which Assimp-based
readers (open3d's own reader among them) reject; this writes the standard binary chunk.
"""

import json
import struct

import numpy as np


def _pad(data, fill):
    return data + fill * (-len(data) % 4)


def write_glb(path, vertices, triangles, colors_linear):
    """``vertices`` Nx3 (glTF frame, Y up), ``triangles`` Mx3, ``colors_linear`` Nx3 0..1."""
    pos = np.ascontiguousarray(vertices, dtype="<f4")
    col = np.ascontiguousarray(colors_linear, dtype="<f4")
    idx = np.ascontiguousarray(triangles, dtype="<u4")
    blobs = [pos.tobytes(), col.tobytes(), idx.tobytes()]
    views, offset = [], 0
    for i, blob in enumerate(blobs):
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": len(blob),
                      "target": 34963 if i == 2 else 34962})
        offset += len(blob) + (-len(blob) % 4)
    binary = b"".join(_pad(b, b"\0") for b in blobs)
    doc = {
        "asset": {"version": "2.0", "generator": "blender_img2mesh"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "COLOR_0": 1},
                                    "indices": 2, "mode": 4}]}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": len(pos), "type": "VEC3",
             "min": pos.min(axis=0).tolist(), "max": pos.max(axis=0).tolist()},
            {"bufferView": 1, "componentType": 5126, "count": len(col), "type": "VEC3"},
            {"bufferView": 2, "componentType": 5125, "count": idx.size, "type": "SCALAR"},
        ],
        "bufferViews": views, "buffers": [{"byteLength": len(binary)}],
    }
    text = _pad(json.dumps(doc, separators=(",", ":")).encode(), b" ")
    total = 12 + 8 + len(text) + 8 + len(binary)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<4sII", b"glTF", 2, total))
        fh.write(struct.pack("<I4s", len(text), b"JSON") + text)
        fh.write(struct.pack("<I4s", len(binary), b"BIN\0") + binary)
