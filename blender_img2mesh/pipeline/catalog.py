"""The one catalog of what a job can be asked for: models, choices, value ranges, defaults
and file kinds.  Standard library only and no bpy, so both sides read it: the worker's
parser and checks (:mod:`command.arguments`, :mod:`command.checks`) and the add-on's panel
(its dropdowns, min/max and the photo filter), which therefore cannot drift apart.
"""

import os
import re

# ---- models ---------------------------------------------------------------------------
#: depth models: alias -> (hub id, license, what it outputs)
DEPTH_MODELS = {
    "depth-anything-v2-small": ("depth-anything/Depth-Anything-V2-Small-hf", "Apache-2.0",
                                "relative"),
    "depth-anything-v2-base": ("depth-anything/Depth-Anything-V2-Base-hf", "CC-BY-NC-4.0",
                               "relative"),
    "depth-anything-v2-large": ("depth-anything/Depth-Anything-V2-Large-hf", "CC-BY-NC-4.0",
                                "relative"),
    "depth-anything-v2-metric-indoor-small": (
        "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf", "Apache-2.0", "metric"),
    "glpn-nyu": ("vinvino02/glpn-nyu", "Apache-2.0", "metric"),
    "glpn-kitti": ("vinvino02/glpn-kitti", "Apache-2.0", "metric"),
    "dpt-hybrid": ("Intel/dpt-hybrid-midas", "Apache-2.0", "relative"),
    "dpt-large": ("Intel/dpt-large", "Apache-2.0", "relative"),
    "zoedepth-nyu-kitti": ("Intel/zoedepth-nyu-kitti", "MIT", "metric"),
    "depth-pro": ("apple/DepthPro-hf", "Apple sample code license", "metric"),
}
DEFAULT_DEPTH_MODEL = "depth-anything-v2-small"
#: ready ONNX repositories on the Hub (transformers.js's layout: ``config.json``,
#: ``preprocessor_config.json``, ``onnx/model.onnx`` fp32, ``onnx/model_fp16.onnx``,
#: int8 as ``onnx/model_int8.onnx`` (onnx-community) or ``onnx/model_quantized.onnx``
#: (Xenova)): depth alias -> repo id.  These run on onnxruntime alone (no torch).  The
#: others have none this project runs -- the metric-indoor Depth Anything and ZoeDepth
#: none at all; onnx-community/DepthPro-ONNX exists, but Depth Pro's processing is not
#: reproduced here -- so they take the local export, which needs torch (:func:`depth_path`)
DEPTH_ONNX_REPOS = {
    "depth-anything-v2-small": "onnx-community/depth-anything-v2-small",  # 99 / 50 / 27 MB
    "depth-anything-v2-base": "onnx-community/depth-anything-v2-base",
    "depth-anything-v2-large": "onnx-community/depth-anything-v2-large",  # 1.34 GB / 347 MB
    "glpn-nyu": "Xenova/glpn-nyu",  # 246 / 124 / 65 MB
    "glpn-kitti": "Xenova/glpn-kitti",
    "dpt-hybrid": "Xenova/dpt-hybrid-midas",  # 533 / 267 / 208 MB
    "dpt-large": "Xenova/dpt-large",  # 1.37 GB / 684 / 353 MB
}
#: which network of an ONNX repository runs: variant -> its files in the repository, first
#: found wins
DEPTH_VARIANT_FILES = {
    "fp32": ("onnx/model.onnx",),
    "fp16": ("onnx/model_fp16.onnx",),
    "int8": ("onnx/model_int8.onnx", "onnx/model_quantized.onnx"),
}
DEPTH_VARIANTS = ("auto", *DEPTH_VARIANT_FILES)
#: chosen by measurement (python -m benchmarks.speed.depth_variants; docs/benchmarks.md)
DEFAULT_DEPTH_VARIANT = "fp32"


def depth_path(alias):
    """How a catalog depth model runs: ``"onnx repo"`` (a ready ONNX repository,
    onnxruntime only) or ``"local export, needs torch"`` (the transformers model,
    exported to ONNX once on this machine)."""
    return "onnx repo" if alias in DEPTH_ONNX_REPOS else "local export, needs torch"


#: the depth models the panel offers by name, with their labels and download sizes
PANEL_DEPTH_MODELS = {
    "depth-anything-v2-small": ("Depth Anything V2 Small", "~100 MB"),
    "glpn-nyu": ("GLPN NYU", "~250 MB"),
}

_SAI_NC = "Stability AI Non-Commercial Research Community License (see the model card)"
#: text-to-image models: alias -> (hub id, license)
T2I_MODELS = {
    "sd-turbo": ("stabilityai/sd-turbo", _SAI_NC),
    "sdxl-turbo": ("stabilityai/sdxl-turbo", _SAI_NC),
}
DEFAULT_T2I_MODEL = "sd-turbo"
PROMPT_TEMPLATE = ("{prompt}, a single object, centered, full view, isolated on a plain "
                   "white background, studio lighting, product photo")

#: rembg's background-removal models (u2netp runs without rembg: mask/u2net.py)
REMBG_MODELS = ("u2netp", "u2net", "u2net_human_seg", "u2net_cloth_seg", "silueta",
                "isnet-general-use", "isnet-anime", "sam", "birefnet-general",
                "birefnet-general-lite", "birefnet-portrait", "birefnet-dis", "birefnet-hrsod",
                "birefnet-cod", "birefnet-massive", "bria-rmbg")
DEFAULT_SEGMENTER = "u2netp"

# ---- choices --------------------------------------------------------------------------
MESHERS = ("auto", "grid", "poisson")
BACKS = ("open", "flat", "mirror")
FRAMES = ("blender", "camera")
COLOR_MODES = ("auto", "both", "texture", "vertex")
DEPTH_KINDS = ("auto", "metric", "relative")
DEVICES = ("auto", "cpu", "cuda", "mps")
DEPTH_BACKENDS = ("auto", "onnx", "export", "torch")
TEXTURE_FORMATS = ("auto", "jpeg", "png")

# ---- numbers --------------------------------------------------------------------------
#: camera field of view across the longer side when nothing gives one: a normal lens
DEFAULT_FOV = 50.0
DEFAULTS = {
    "max_size": 512, "poisson_depth": 8, "size": 2.0, "texture_quality": 97,
}


class Range:
    """One numeric option's limits: ``option`` (the command line's flag), ``low``/``high``
    (ints: a whole number), ``what`` (for messages) and ``label`` (the panel's name)."""

    __slots__ = ("option", "low", "high", "what", "label")

    def __init__(self, option, low, high, what, label=None):
        self.option, self.low, self.high, self.what, self.label = option, low, high, what, label

    @property
    def whole(self):
        return isinstance(self.low, int)

    def __iter__(self):  # (option, low, high, what), as the checks unpack it
        return iter((self.option, self.low, self.high, self.what))


#: dest -> Range; the worker refuses a value outside it, the panel's fields use the same
RANGES = {
    "size": Range("--size", 1e-4, 1e4, "the mesh's largest dimension", "Size"),
    "fov": Range("--fov", 1.0, 170.0, "degrees", "Field of View"),
    "thickness": Range("--thickness", 0.01, 10.0, "depth relative to width", "Thickness"),
    "depth_scale": Range("--depth-scale", 1e-6, 1e6, "a factor"),
    "guidance": Range("--guidance", 0.0, 50.0, "a guidance scale"),
    "max_size": Range("--max-size", 32, 8192, "pixels", "Resolution"),
    "poisson_depth": Range("--poisson-depth", 5, 12, "an octree depth", "Surface Detail"),
    "target_faces": Range("--target-faces", 4, 100_000_000, "triangles", "Target Faces"),
    "steps": Range("--steps", 1, 200, "denoising steps", "Steps"),
    "seed": Range("--seed", 0, 2 ** 63 - 1, "a seed", "Seed"),
    "texture_size": Range("--texture-size", 16, 16384, "pixels", "Texture Size"),
    "texture_quality": Range("--texture-quality", 50, 100, "a JPEG quality"),
}

# ---- files ----------------------------------------------------------------------------
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")
MESH_FORMATS = (".ply", ".obj", ".glb")
#: characters a result's file name may not hold: a mesh names its texture and material
#: inside line-based headers (PLY ``comment TextureFile``, OBJ ``mtllib``, MTL ``map_Kd``)
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def control_character(name):
    """The first control character (line break, tab, ...) in ``name`` as ``repr`` shows
    it (``'\\n'``), or None."""
    m = CONTROL_CHARACTERS.search(name)
    return repr(m.group())[1:-1] if m else None


def looks_like_path(name):
    """Whether a model name is a path (a folder) rather than an alias or a hub id
    ``org/name``: it starts with ``.``, ``~`` or ``/`` (or Blender's ``//``), it has a
    drive (``C:``) or a backslash, or more than one ``/``.  The one rule for the worker
    and the panel."""
    if name.startswith((".", "~", "/", "\\")):
        return True
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return True
    return "\\" in name or os.sep in name.replace("/", "") or (
        os.altsep is not None and os.altsep in name.replace("/", "")) or name.count("/") > 1
