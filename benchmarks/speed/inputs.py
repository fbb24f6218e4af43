"""The benchmarks' inputs, made in the pipeline's Python (torch, transformers): full-size
depth network architectures with random weights (speed does not depend on the weights),
the plausible depth both methods' geometry is fed, and a 300k-triangle colored mesh.

    .venv/bin/python -m benchmarks.speed.inputs depth-anything FOLDER   # for blender_addon.py
    .venv/bin/python -m benchmarks.speed.inputs big-ply OUT.ply
    .venv/bin/python -m benchmarks.speed.inputs big-textured-ply OUT.ply

``speed.py``, ``onnx_vs_torch.py`` and ``batch.py`` import it; ``blender_addon.py`` (bpy,
no torch in its process) runs it as a program in the pipeline's Python.
"""

import os
import sys

# GLPN-NYU / GLPN-KITTI architecture (MiT-b4 encoder), as in transformers' conversion script
GLPN_NYU = dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 8, 27, 3],
                decoder_hidden_size=64, max_depth=10)


def make_network(folder):
    import torch
    from transformers import GLPNConfig, GLPNForDepthEstimation, GLPNImageProcessor

    torch.manual_seed(0)
    model = GLPNForDepthEstimation(GLPNConfig(**GLPN_NYU)).eval()
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder)
    GLPNImageProcessor().save_pretrained(folder)
    return params


def make_default_network(folder):
    """Our default depth model's architecture, Depth Anything V2 Small (DINOv2 ViT-S/14 +
    DPT head, 24.8 M parameters: transformers' default ``DepthAnythingConfig``), random
    weights, with its real preprocessing (518 px short side, multiples of 14)."""
    import torch
    from transformers import (DepthAnythingConfig, DepthAnythingForDepthEstimation,
                              DPTImageProcessor)

    torch.manual_seed(0)
    model = DepthAnythingForDepthEstimation(DepthAnythingConfig()).eval()
    model.save_pretrained(folder)
    DPTImageProcessor(size={"height": 518, "width": 518}, keep_aspect_ratio=True,
                      ensure_multiple_of=14, resample=3, do_pad=False,
                      image_mean=[0.485, 0.456, 0.406],
                      image_std=[0.229, 0.224, 0.225]).save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def plausible_depth(rgb, models_dir):
    """Metres: the u2netp mask inflated (object 1.2 m .. ~1.7 m) before a tilted plane."""
    import numpy as np

    from blender_img2mesh.pipeline.geometry import camera
    from blender_img2mesh.pipeline.depth import convert
    from blender_img2mesh.pipeline.mask import segment

    session = segment.rembg_session("u2netp", models_dir, allow_download=False)
    mask = segment.clean_mask(segment.remove_background(rgb, session))
    h, w = mask.shape
    f = camera.focal_px(w, h, camera.DEFAULT_FOV)
    obj = convert.inflate_depth(mask, f, 0.5, z_near=1.2)
    rows = (np.arange(h, dtype=np.float32) + 0.5) / h
    plane = np.broadcast_to((3.0 - 1.0 * rows)[:, None], (h, w))
    z = np.where(mask, np.minimum(obj, plane - 0.05), plane).astype(np.float32)
    return z, mask


def resample(z, shape):
    import numpy as np
    from PIL import Image

    if z.shape == tuple(shape):
        return z
    img = Image.fromarray(z.astype(np.float32), mode="F")
    return np.asarray(img.resize((shape[1], shape[0]), Image.BILINEAR), np.float32)


def write_big_ply(path):
    """150,544 vertices, 299,538 colored triangles, written by the pipeline's write_ply."""
    from blender_img2mesh.pipeline.output.mesh_files import write_ply

    from ..fixtures import grid_mesh

    verts, colors, tris = grid_mesh(388)
    write_ply(path, verts, tris, colors.astype(float))


def write_big_textured_ply(path):
    """The same mesh with UVs and a 4096 x 2731 JPEG texture beside it (coffee.png
    enlarged), as the pipeline writes them."""
    import numpy as np
    from PIL import Image

    from blender_img2mesh.pipeline.output.mesh_files import encode_image, write_ply

    from ..fixtures import grid_mesh, photo

    verts, colors, tris = grid_mesh(388)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    uv = ((verts[:, [0, 2]] - lo[[0, 2]]) / (hi - lo)[[0, 2]]).astype(np.float32)
    name = os.path.splitext(os.path.basename(path))[0] + "_texture.jpg"
    image = Image.open(photo()).convert("RGB").resize((4096, 2731), Image.LANCZOS)
    with open(os.path.join(os.path.dirname(path), name), "wb") as fh:
        fh.write(encode_image(np.asarray(image), "jpeg"))
    write_ply(path, verts, tris, colors.astype(float), uv, name)


MAKERS = {"depth-anything": make_default_network, "big-ply": write_big_ply,
          "big-textured-ply": write_big_textured_ply}

if __name__ == "__main__":
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
    elif len(sys.argv) != 3 or sys.argv[1] not in MAKERS:
        sys.exit(__doc__)
    else:
        MAKERS[sys.argv[1]](sys.argv[2])
