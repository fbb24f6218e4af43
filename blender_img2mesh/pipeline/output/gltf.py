"""Binary glTF 2.0 (.glb), written with pygltflib (the glTF schema as Python classes:
the JSON is the specification's by construction; this module only lays out the binary
buffer).  One mesh: positions, UVs (``TEXCOORD_0``, origin top-left), optionally linear
vertex colours (``COLOR_0``), indices, and a metallic-roughness material whose
``baseColorTexture`` is the embedded photo.

glTF multiplies ``COLOR_0`` into the base colour, texture included: a mesh that has a
texture carries ``COLOR_0`` only when asked for both (see ``--color``).
"""

import numpy as np

FLOAT, UINT = 5126, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
LINEAR, LINEAR_MIPMAP_LINEAR, CLAMP_TO_EDGE = 9729, 9987, 33071
MIME = {"jpeg": "image/jpeg", "png": "image/png"}


def srgb_to_linear(c):
    """sRGB-encoded values in 0..1 -> linear light (IEC 61966-2-1)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def write_glb(path, vertices, triangles, colors=None, uv=None, image=None,
              double_sided=True):
    """``vertices`` Nx3 (glTF frame: Y up), ``triangles`` Mx3, ``colors`` Nx3 sRGB uint8
    or None, ``uv`` Nx2 (origin bottom-left, as the other writers take them) or None,
    ``image`` ``(encoded bytes, "jpeg" | "png")`` or None."""
    import pygltflib as g

    blobs, views, accessors = [], [], []
    offset = 0

    def add(data, target=None):
        nonlocal offset
        raw = data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
        views.append(g.BufferView(buffer=0, byteOffset=offset, byteLength=len(raw),
                                  target=target))
        blobs.append(raw + b"\0" * (-len(raw) % 4))
        offset += len(blobs[-1])
        return len(views) - 1

    def accessor(array, kind, component, target, bounds=False):
        view = add(array, target)
        extra = {}
        if bounds:
            extra = {"min": array.min(axis=0).tolist(), "max": array.max(axis=0).tolist()}
        accessors.append(g.Accessor(bufferView=view, componentType=component,
                                    count=len(array), type=kind, **extra))
        return len(accessors) - 1

    pos = np.asarray(vertices, "<f4")
    attributes = g.Attributes(POSITION=accessor(pos, "VEC3", FLOAT, ARRAY_BUFFER, True))
    if uv is not None:
        tex = np.asarray(uv, "<f4").copy()
        tex[:, 1] = 1.0 - tex[:, 1]  # glTF's UV origin is the image's top left
        attributes.TEXCOORD_0 = accessor(tex, "VEC2", FLOAT, ARRAY_BUFFER)
    if colors is not None:
        lin = srgb_to_linear(np.asarray(colors, np.float64) / 255.0).astype("<f4")
        attributes.COLOR_0 = accessor(lin, "VEC3", FLOAT, ARRAY_BUFFER)
    idx = np.asarray(triangles, "<u4").reshape(-1)
    indices = accessor(idx, "SCALAR", UINT, ELEMENT_ARRAY_BUFFER)

    pbr = g.PbrMetallicRoughness(metallicFactor=0.0, roughnessFactor=0.8)
    doc = dict(images=[], textures=[], samplers=[])
    if image is not None and uv is not None:
        data, fmt = image
        doc["images"] = [g.Image(bufferView=add(data), mimeType=MIME[fmt])]
        doc["samplers"] = [g.Sampler(magFilter=LINEAR, minFilter=LINEAR_MIPMAP_LINEAR,
                                     wrapS=CLAMP_TO_EDGE, wrapT=CLAMP_TO_EDGE)]
        doc["textures"] = [g.Texture(source=0, sampler=0)]
        pbr.baseColorTexture = g.TextureInfo(index=0)
    binary = b"".join(blobs)
    gltf = g.GLTF2(
        asset=g.Asset(version="2.0", generator="blender_img2mesh"), scene=0,
        scenes=[g.Scene(nodes=[0])], nodes=[g.Node(mesh=0, name="img2mesh")],
        meshes=[g.Mesh(name="img2mesh", primitives=[g.Primitive(
            attributes=attributes, indices=indices, material=0, mode=4)])],
        materials=[g.Material(name="img2mesh", pbrMetallicRoughness=pbr,
                              doubleSided=bool(double_sided))],
        accessors=accessors, bufferViews=views, buffers=[g.Buffer(byteLength=len(binary))],
        **{k: v for k, v in doc.items() if v})
    gltf.set_binary_blob(binary)
    with open(path, "wb") as fh:
        fh.write(b"".join(gltf.save_to_bytes()))
