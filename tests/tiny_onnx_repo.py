"""A tiny ONNX depth repository laid out like the Hub's ready ones
(``onnx-community/depth-anything-v2-small``), for tests that download and run it:

    <repo>/config.json                {"model_type": "depth_anything"} (as on the Hub)
    <repo>/preprocessor_config.json   Depth Anything V2's processor (518, multiple of 14)
    <repo>/onnx/model.onnx            fp32, exported by the project's exporter
    <repo>/onnx/model_fp16.onnx       fp16 weights, float32 inputs and outputs
    <repo>/onnx/model_int8.onnx       dynamic int8 quantisation
    <source>/                         the same network as a transformers folder
                                      (save_pretrained), to compare with PyTorch

The network is a random Depth Anything V2 (DINOv2 backbone, 4 layers of width 32) with
weights scaled up so that its depth varies across the picture.  Building needs torch,
transformers and onnx (the development environment); using the result needs only
onnxruntime.  Command line (e.g. to serve it with tests/hub_server.py elsewhere):

    python tests/tiny_onnx_repo.py OUT_DIR      # -> OUT_DIR/repo and OUT_DIR/source
"""

import json
import os
import sys

#: what the Hub's onnx-community Depth Anything V2 repositories hold beside the networks
CONFIG = {"model_type": "depth_anything"}
PREPROCESSOR = {
    "do_normalize": True, "do_pad": False, "do_rescale": True, "do_resize": True,
    "ensure_multiple_of": 14, "image_mean": [0.485, 0.456, 0.406],
    "image_processor_type": "DPTImageProcessor", "image_std": [0.229, 0.224, 0.225],
    "keep_aspect_ratio": True, "resample": 3, "rescale_factor": 0.00392156862745098,
    "size": {"height": 518, "width": 518}, "size_divisor": None,
}


def tiny_config(**extra):
    """A tiny Depth Anything V2 configuration (``extra``: e.g. a metric head)."""
    from transformers import DepthAnythingConfig, Dinov2Config

    return DepthAnythingConfig(
        backbone_config=Dinov2Config(
            image_size=518, patch_size=14, hidden_size=32, num_hidden_layers=4,
            num_attention_heads=2, intermediate_size=64,
            out_features=["stage1", "stage2", "stage3", "stage4"],
            reshape_hidden_states=False),
        fusion_hidden_size=16, neck_hidden_sizes=[8, 16, 32, 32], head_hidden_size=8,
        reassemble_hidden_size=32, patch_size=14, **extra)


def tiny_model(seed=1):
    """The random tiny Depth Anything V2 network (transformers, eval mode, CPU)."""
    import torch
    from transformers import DepthAnythingForDepthEstimation

    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(tiny_config())
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # lively: the default initialisation gives a nearly flat map
        for p in model.parameters():
            if p.ndim > 1:
                p.copy_(torch.randn(p.shape, generator=gen) / p[0].numel() ** 0.5)
    return model.eval()


def write_configs(folder):
    os.makedirs(folder, exist_ok=True)
    for name, data in (("config.json", CONFIG), ("preprocessor_config.json", PREPROCESSOR)):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)


def build(root, seed=1, variants=True):
    """Write ``<root>/repo`` (the ONNX repository) and ``<root>/source`` (the
    transformers folder of the same weights); returns ``(repo, source)``.
    ``variants=False``: fp32 only."""
    here = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.dirname(here), here):  # the package and benchmarks/
        if path not in sys.path:
            sys.path.insert(0, path)
    from benchmarks.speed import onnx_variants
    from blender_img2mesh.pipeline.depth import onnx_export, prep

    repo, source = os.path.join(root, "repo"), os.path.join(root, "source")
    model = tiny_model(seed)
    model.save_pretrained(source)
    write_configs(repo)
    with open(os.path.join(source, "preprocessor_config.json"), "w", encoding="utf-8") as fh:
        json.dump(PREPROCESSOR, fh, indent=2)
    _, _, proc = prep.read_config(repo)
    fp32 = os.path.join(repo, "onnx", onnx_variants.FILES["fp32"])
    reason = onnx_export.write_checked(model, proc, fp32)
    if reason is not None:
        raise RuntimeError(f"the tiny network did not export: {reason}")
    if variants:
        onnx_variants.write_variants(fp32, os.path.dirname(fp32))
    return repo, source


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/tiny_onnx_repo.py OUT_DIR")
    made = build(os.path.abspath(sys.argv[1]))
    print("\n".join(made))
