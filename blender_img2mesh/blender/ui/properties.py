"""The generation settings: one annotation mixin shared by the operator (its properties)
and the scene's PropertyGroup (what the panel edits), plus the settings -> CLI mapping."""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ...pipeline import catalog
from ..addon_prefs import online_access
from ..scene import material

_R = catalog.RANGES

SEGMENTERS = (
    ("u2netp", "U2-Net Small", "u2netp: fast, small (default; works offline once fetched)"),
    ("u2net", "U2-Net", "u2net: larger general model"),
    ("isnet-general-use", "IS-Net", "isnet-general-use: sharper edges"),
    ("silueta", "Silueta", "silueta: small u2net variant"),
    ("u2net_human_seg", "U2-Net Human", "u2net_human_seg: people"),
    ("u2net_cloth_seg", "U2-Net Cloth", "u2net_cloth_seg: clothes"),
    ("isnet-anime", "IS-Net Anime", "isnet-anime: anime characters"),
    ("birefnet-general-lite", "BiRefNet Lite", "birefnet-general-lite: good edges, slower"),
    ("birefnet-general", "BiRefNet", "birefnet-general: best edges, slow"),
    ("birefnet-portrait", "BiRefNet Portrait", "birefnet-portrait: people"),
    ("birefnet-dis", "BiRefNet DIS", "birefnet-dis"),
    ("birefnet-hrsod", "BiRefNet HRSOD", "birefnet-hrsod"),
    ("birefnet-cod", "BiRefNet COD", "birefnet-cod"),
    ("birefnet-massive", "BiRefNet Massive", "birefnet-massive"),
    ("bria-rmbg", "BRIA RMBG", "bria-rmbg (non-commercial licence)"),
)
DEPTH_MODELS = (
    ("auto", "Auto", "Depth Anything V2 Small if available, else inflation"),
    ("inflate", "Inflate", "No neural network: inflate the silhouette (instant, no weights)"),
    *((name, label, f"{catalog.DEPTH_MODELS[name][2].capitalize()} depth, "
       f"{catalog.DEPTH_MODELS[name][1]}, {size}")
      for name, (label, size) in catalog.PANEL_DEPTH_MODELS.items()),
    ("CUSTOM", "Custom", "A hub id (org/name) typed in, or a local model folder (the "
     "folder button beside it)"),
)
BACKS = (
    ("open", "Open", "Visible surface only"),
    ("flat", "Flat", "Closed with a flat back"),
    ("mirror", "Mirror", "Closed with the front mirrored to the back"),
)
MESHERS = (
    ("auto", "Auto", "Depth grid for an open back, Poisson for a closed one"),
    ("grid", "Depth Grid", "Triangulate the depth image: the visible surface, exact and fast"),
    ("poisson", "Poisson", "Screened Poisson reconstruction: smooth; needed for a closed back"),
)
FRAMES = (
    ("blender", "Blender", "Z up, facing -Y, resting on Z = 0, scaled to Size"),
    ("camera", "Camera", "The camera frame of the depth (x right, y down, z forward)"),
)
DEVICES = (
    ("PREFS", "Preferences", "The device set in the add-on preferences"),
    ("auto", "Auto", "GPU when available"),
    ("cpu", "CPU", ""),
    ("cuda", "CUDA", ""),
    ("mps", "Apple MPS", ""),
)

# Names copied between the scene settings and the operator (everything but the source).
SETTING_NAMES = (
    "remove_background", "segmenter", "depth_model", "depth_model_custom", "mesher",
    "poisson_depth",
    "back", "size", "mask_path", "depth_map_path", "use_fov", "fov", "use_thickness",
    "thickness", "use_target_faces", "target_faces", "max_size", "frame", "offline",
    "device", "models_dir", "add_camera", "color", "use_texture_size", "texture_size",
    "prompt", "negative_prompt", "seed", "use_steps", "steps", "t2i_model", "view_cameras",
)
#: the fields that are automatic unless their ``use_<name>`` toggle is on
AUTO_FIELDS = ("fov", "thickness", "target_faces", "texture_size", "steps")
SOURCES = (
    ("FILE", "File", "An image file on disk"),
    ("IMAGE", "Image", "An image already loaded in Blender"),
    ("TEXT", "Text", "Generate the image from a text prompt (text-to-image model)"),
    ("VIEWS", "Views", "Several photos of one object from all around it: one whole object "
     "(the cameras are recovered from the photos)"),
)


def _color_property(update=None):
    return EnumProperty(name="Color", items=material.COLOR_SOURCES, default="TEXTURE",
                        update=update, description="What the material shows: the photo as "
                        "a texture, or the vertex colors (both are kept in the mesh)")


def apply_color(settings, context):
    """The panel's Color switch: re-link Base Color of the selected Img2Mesh objects."""
    objects = getattr(context, "selected_objects", None) or []
    for obj in objects:
        for slot in getattr(obj, "material_slots", ()):
            if slot.material is not None:
                material.set_color_source(slot.material, settings.color)


class SettingsMixin:
    remove_background: BoolProperty(
        name="Remove Background", default=True,
        description="Cut the object out of the photo before reconstructing it")
    segmenter: EnumProperty(name="Segmenter", items=SEGMENTERS, default=catalog.DEFAULT_SEGMENTER,
                            description="Background removal model (rembg)")
    depth_model: EnumProperty(name="Depth", items=DEPTH_MODELS, default="auto",
                              description="How depth is estimated from the photo")
    depth_model_custom: StringProperty(
        name="Custom Depth Model", default="",
        description="Hub id (org/name) or local model folder, for depth model Custom")
    mesher: EnumProperty(name="Surface", items=MESHERS, default="auto",
                         description="How the surface is made from the depth")
    poisson_depth: IntProperty(name="Surface Detail", default=catalog.DEFAULTS["poisson_depth"],
                               min=_R["poisson_depth"].low, max=_R["poisson_depth"].high,
                               description="How fine the closed (Poisson) surface is: the "
                               "octree depth, each step about twice the detail along each "
                               "axis and four times the faces (used for a closed back)")
    back: EnumProperty(name="Back", items=BACKS, default="open",
                       description="What the unseen back of the object becomes")
    size: FloatProperty(name="Size", default=catalog.DEFAULTS["size"], min=_R["size"].low,
                        max=_R["size"].high, soft_max=100.0, unit="LENGTH",
                        description="Largest dimension of the mesh")
    mask_path: StringProperty(name="Mask", subtype="FILE_PATH", default="",
                              description="Use this mask (white = object) instead of a model")
    depth_map_path: StringProperty(name="Depth Map", subtype="FILE_PATH", default="",
                                   description="Use this depth map instead of a model")
    # automatic unless turned on (use_*): each value's limits are the worker's own
    use_fov: BoolProperty(name="Set Field of View", default=False,
                          description="Give the camera's field of view (off: the depth "
                          "model's estimate, else 50 degrees)")
    fov: FloatProperty(name="Field of View", default=catalog.DEFAULT_FOV, min=_R["fov"].low,
                       max=_R["fov"].high,
                       description="Camera field of view across the longer side in degrees")
    use_thickness: BoolProperty(name="Set Thickness", default=False,
                                description="Give the depth relative to the width (off: "
                                "the depth's own, or 0.5 for relative depth)")
    thickness: FloatProperty(name="Thickness", default=0.5, min=_R["thickness"].low,
                             max=_R["thickness"].high, description="Depth relative to width")
    use_target_faces: BoolProperty(name="Decimate", default=False,
                                   description="Decimate the mesh to about Target Faces "
                                   "triangles (off: all the faces the surface has)")
    target_faces: IntProperty(name="Target Faces", default=100_000,
                              min=_R["target_faces"].low, max=_R["target_faces"].high,
                              description="Decimate to about this many triangles")
    max_size: IntProperty(name="Resolution", default=catalog.DEFAULTS["max_size"],
                          min=_R["max_size"].low, max=_R["max_size"].high, soft_max=2048,
                          subtype="PIXEL", description="Longer side of the working image the "
                          "mask and depth are made at: the open surface's vertex grid, and "
                          "the points a closed surface is made from")
    frame: EnumProperty(name="Frame", items=FRAMES, default="blender")
    offline: BoolProperty(name="Offline", default=False,
                          description="Never download a model")
    device: EnumProperty(name="Device", items=DEVICES, default="PREFS")
    models_dir: StringProperty(name="Models Folder", subtype="DIR_PATH", default="",
                               description="Folder of local models (empty: the add-on "
                               "preference)")
    add_camera: BoolProperty(name="Add Camera", default=False,
                             description="Add a camera matching the photo's field of view")
    view_cameras: BoolProperty(name="Add Cameras", default=False,
                               description="Views: add the recovered cameras, each with its "
                               "photo as background image, to see how the object fits")
    color: _color_property()
    use_texture_size: BoolProperty(name="Set Texture Size", default=False,
                                   description="Limit the texture image's longer side "
                                   "(off: the photo's own, up to 4096)")
    texture_size: IntProperty(name="Texture Size", default=2048, min=_R["texture_size"].low,
                              max=_R["texture_size"].high, soft_max=8192, subtype="PIXEL",
                              description="Longer side of the texture image at most")
    # text prompt (source Text)
    prompt: StringProperty(name="Prompt", default="",
                           description="What to make, e.g. 'a ceramic mug' (framed as a single "
                           "object on a white background for reconstruction)")
    negative_prompt: StringProperty(name="Negative Prompt", default="",
                                    description="What the picture should not show (not used "
                                    "by turbo models, which run without guidance)")
    seed: IntProperty(name="Seed", default=0, min=_R["seed"].low,
                      description="Random seed: the same seed gives the same picture")
    use_steps: BoolProperty(name="Set Steps", default=False,
                            description="Give the number of denoising steps (off: the "
                            "model's default, 2 for sd-turbo)")
    steps: IntProperty(name="Steps", default=2, min=_R["steps"].low, max=_R["steps"].high,
                       description="Denoising steps")
    t2i_model: StringProperty(name="Image Model", default="",
                              description="Text-to-image model: hub id (org/name) or local "
                              "diffusers folder (empty: sd-turbo)")


#: called with (settings, context) when the panel's image or depth model changes:
#: worker_ahead.py adds its preload here (so the imports run one way, to this module)
SETTING_LISTENERS = []


def ahead(settings, context):
    """A new image or depth model: tell the listeners (the models are loaded ahead)."""
    for listener in SETTING_LISTENERS:
        listener(settings, context)


class IMG2MESH_PG_settings(SettingsMixin, bpy.types.PropertyGroup):
    color: _color_property(apply_color)  # also switches the selected results
    source: EnumProperty(name="Source", items=SOURCES, default="FILE")
    filepath: StringProperty(name="Image", subtype="FILE_PATH", default="", update=ahead,
                             description="The photo to turn into a mesh")
    image: bpy.props.PointerProperty(name="Image", type=bpy.types.Image, update=ahead,
                                     description="An image loaded in Blender")
    depth_model: EnumProperty(name="Depth", items=DEPTH_MODELS, default="auto",
                              update=ahead, description="How depth is estimated from the "
                              "photo")
    depth_model_custom: StringProperty(
        name="Custom Depth Model", default="", update=ahead,
        description="Hub id (org/name) or local model folder, for depth model Custom")
    views_paths: StringProperty(name="Photos", default="",
                                description="Views: the photos of the object, or folders "
                                "of them, separated by ';'")
    batch_folder: StringProperty(name="Photos Folder", subtype="DIR_PATH", default="",
                                 description="Batch: every image file of this folder")
    replace_last: BoolProperty(
        name="Replace Last Result", default=False,
        description="Generate updates the last result (its mesh, material, texture and "
        "camera) in place instead of adding an object: change a setting and Generate "
        "again to re-mesh it (the same photo's mask and depth are reused)")
    last_result: bpy.props.PointerProperty(
        name="Last Result", type=bpy.types.Object,
        description="The object the last Generate made or updated")


def last_result(context):
    """The scene's last result object, when it is still a mesh in the scene, else None."""
    obj = context.scene.img2mesh.last_result
    if obj is None or obj.type != "MESH" or obj.name not in context.scene.objects:
        return None
    return obj


def set_last_result(context, obj):
    context.scene.img2mesh.last_result = obj


def given(s, name):
    """Whether the settings ``s`` set the automatic-by-default field ``name`` (see
    :data:`AUTO_FIELDS`): its toggle ``use_<name>`` is on -- or, for an operator run
    from a script, the value was given without the toggle (``generate(fov=35.0)``)."""
    if getattr(s, "use_" + name):
        return True
    props = getattr(s, "properties", None)  # an operator's
    return isinstance(s, bpy.types.Operator) and props is not None and \
        props.is_property_set(name) and not props.is_property_set("use_" + name)


def operator_settings(s):
    """The scene settings ``s`` as the operator's keyword arguments (the panel's button)."""
    kw = {name: getattr(s, name) for name in SETTING_NAMES}
    kw["source"] = s.source
    kw["replace_last"] = s.replace_last
    if s.source == "IMAGE":
        kw["image_name"] = s.image.name if s.image is not None else ""
    elif s.source == "FILE":
        kw["filepath"] = s.filepath
    elif s.source == "VIEWS":
        kw["views"] = s.views_paths
    return kw


def cli_args(s, image_path, out_path, prefs=None):
    """Settings (operator or PropertyGroup) -> the pipeline's command-line arguments
    (``image_path`` None: generate the picture from ``s.prompt``)."""
    source = [image_path] if image_path else prompt_args(s)
    args = [*source, "-o", out_path, "--mesher", s.mesher, "--poisson-depth", str(s.poisson_depth),
            "--back", s.back, "--size", repr(float(s.size)), "--frame", s.frame,
            "--max-size", str(s.max_size)]
    mask = bpy.path.abspath(s.mask_path) if s.mask_path and image_path else ""
    if mask:
        args += ["--mask", mask]
    else:
        args += segment_args(s)
    if s.depth_map_path and image_path:  # mask and depth map: a photo's, not a prompt's
        args += ["--depth-map", bpy.path.abspath(s.depth_map_path)]
    else:
        model = s.depth_model_custom.strip() if s.depth_model == "CUSTOM" else s.depth_model
        if s.depth_model == "CUSTOM" and not model:
            raise ValueError("depth model is Custom but no hub id or folder is set")
        if model.startswith("//"):
            model = bpy.path.abspath(model)
        args += ["--depth-model", model]
    for name in ("fov", "thickness"):
        if given(s, name):
            args += [_R[name].option, repr(float(getattr(s, name)))]
    # no --color: the pipeline's default (both) keeps texture and vertex colors in the
    # file, and the Color setting only chooses what feeds the material
    return args + machine_args(s, prefs)


def segment_args(s):
    """Background removal: the segmenter, or none (``--keep-background``)."""
    return ["--segmenter", s.segmenter] if s.remove_background else ["--keep-background"]


def machine_args(s, prefs=None):
    """The options of every job: faces, texture size, offline, device, models folder."""
    args = []
    for name in ("target_faces", "texture_size"):
        if given(s, name):
            args += [_R[name].option, str(getattr(s, name))]
    if s.offline or not online_access():  # Blender 4.2+'s Online Access
        args.append("--offline")
    device = s.device if s.device != "PREFS" else getattr(prefs, "device", "auto")
    args += ["--device", device]
    models_dir = s.models_dir or (getattr(prefs, "models_dir", "") if prefs else "")
    if models_dir:
        args += ["--models-dir", bpy.path.abspath(models_dir)]
    return args


def prompt_args(s):
    """The text-to-image part of the command line (``--opt=value``: a prompt may start
    with a dash)."""
    if not s.prompt.strip():
        raise ValueError("no prompt given: describe the object to generate")
    args = [f"--prompt={s.prompt.strip()}", f"--seed={s.seed}"]
    if given(s, "steps"):
        args.append(f"--steps={s.steps}")
    if s.negative_prompt.strip():
        args.append(f"--negative-prompt={s.negative_prompt.strip()}")
    model = s.t2i_model.strip()
    if model:
        args.append(f"--t2i-model={bpy.path.abspath(model) if model.startswith('//') else model}")
    return args
