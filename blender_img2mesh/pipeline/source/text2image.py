"""Text prompt -> picture, with a diffusers text-to-image pipeline (then the photo pipeline
turns the picture into a mesh).

Models are found like depth models (see models.py): a folder given as ``--t2i-model``;
the models folder (``<models-dir>/<name>`` or ``<models-dir>/<org>--<name>``); the Hugging
Face cache; then, only when downloads are allowed, the hub (configs, tokenizer files and
``*.safetensors`` only -- the fp16 weights when the repository has them, ~half the size --
into ``<models-dir>/<org>--<name>``, with progress).  Loaded with
``AutoPipelineForText2Image`` (safetensors only, never remote code), float32 on CPU and
float16 on CUDA.

The prompt is wrapped in :data:`PROMPT_TEMPLATE` so the picture suits reconstruction: one
object, centred, whole, on a plain white background that background removal takes away.
"""

import glob
import inspect
import json
import os
import random
import re

from ..catalog import DEFAULT_T2I_MODEL, PROMPT_TEMPLATE  # noqa: F401 -- this module's names
from ..errors import Img2MeshError, ModelUnavailable
from ..models import T2I_MODELS, ModelSource, downloading, resolve

#: what a download fetches: configs, tokenizer files, safetensors weights (never pickles)
_META = ["model_index.json", "*/*.json", "*/*.txt", "*/*.model"]
_FP16 = _META + ["*/*.fp16*.safetensors"]


def apply_template(prompt, template=None):
    """The prompt the model sees: ``template`` with ``{prompt}`` replaced."""
    return (template or PROMPT_TEMPLATE).replace("{prompt}", prompt.strip())


def model_defaults(ident):
    """(steps, guidance scale) suited to a model: few steps, no guidance for the distilled
    turbo models; the usual 25 steps at guidance 7.5 otherwise."""
    name = ident.lower()
    if "turbo" in name:
        return 2, 0.0
    if "lightning" in name or "lcm" in name:
        return 4, 1.0
    return 25, 7.5


def image_path(mesh_path):
    """Where the generated picture goes: ``<stem>_image.png`` beside the mesh."""
    return os.path.splitext(mesh_path)[0] + "_image.png"


def _is_pipeline_dir(path):
    return os.path.isfile(os.path.join(path, "model_index.json"))


def resolve_t2i_model(name, models_dir, allow_download, progress=None):
    """Return ``(folder, hub_id_or_None)`` of a diffusers pipeline folder, or raise
    (:func:`models.resolve`: folder, models folder, HF cache, download when allowed)."""
    return resolve(T2I_SOURCE, name, models_dir, allow_download, progress)


def _missing_weights(folder):
    """Components (sub-folders with a ``config.json``) that have no safetensors weights."""
    return [d for d in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, d, "config.json"))
            and not glob.glob(os.path.join(folder, d, "*.safetensors"))]


def _from_hf_cache(repo_id):
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(repo_id, local_files_only=True)
    except Exception:
        return None
    return path if _is_pipeline_dir(path) and not _missing_weights(path) else None


def _download(repo_id, target, progress):
    with downloading("text-to-image model", repo_id, target, progress,
                     hint="check the internet connection and try again, or copy the "
                     "model's folder there by hand") as get:
        partial = get(_FP16)
        missing = _missing_weights(partial) if os.path.isdir(partial) else []
        if missing:  # components without an fp16 variant: their full-precision weights
            get([f"{d}/*.safetensors" for d in missing])
        if not _is_pipeline_dir(partial) or _missing_weights(partial):
            raise ModelUnavailable(f"{repo_id} is not a diffusers pipeline with safetensors "
                                   "weights", file=target, hint="choose a diffusers "
                                   "text-to-image model published with .safetensors files")
    return target


def load_pipeline(folder, device):
    """``AutoPipelineForText2Image`` from a local folder: safetensors only, no remote code."""
    import torch
    from diffusers import AutoPipelineForText2Image
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    files = glob.glob(os.path.join(folder, "*", "*.safetensors"))
    variant = "fp16" if any(re.search(r"\.fp16[.-]", os.path.basename(f)) for f in files) \
        else None  # (diffusers takes the full weights of components without fp16 files)
    try:
        pipe = AutoPipelineForText2Image.from_pretrained(
            folder, dtype=torch.float16 if device == "cuda" else torch.float32,
            use_safetensors=True, variant=variant, trust_remote_code=False,
            local_files_only=True, low_cpu_mem_usage=False)
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise Img2MeshError(f"cannot load the text-to-image model in {folder}: {exc}",
                            file=folder, kind="model", hint="give a complete diffusers "
                            "text-to-image pipeline folder with .safetensors weights") from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def generate(pipe, prompt, *, negative_prompt=None, steps=2, guidance=0.0, seed=0, size=None,
             on_step=None):
    """One picture (PIL RGB) for ``prompt``; ``on_step(done, total)`` after each step."""
    import torch

    accepted = inspect.signature(pipe.__call__).parameters

    def callback(p, i, t, tensors):
        if on_step:
            on_step(i + 1, getattr(p, "num_timesteps", None) or steps)
        return tensors

    kwargs = dict(prompt=prompt, num_inference_steps=steps, guidance_scale=guidance,
                  negative_prompt=negative_prompt or None, callback_on_step_end=callback,
                  generator=torch.Generator("cpu").manual_seed(seed), output_type="pil")
    if size:
        kwargs["width"], kwargs["height"] = size
    with torch.inference_mode():
        out = pipe(**{k: v for k, v in kwargs.items() if k in accepted})
    return out.images[0].convert("RGB")


def image_from_prompt(prompt, device, reporter, cache, places):
    """Stage ``prompt``: find and load the model, generate; returns (PIL image, info).
    ``prompt``: a :class:`job.Prompt`; ``device``: as ``--device``; ``places``: a
    :class:`job.Models`."""
    from ..depth.estimate import select_device

    name = prompt.model
    reporter.stage("prompt", f"Loading text-to-image model ({name})")
    folder, hub_id = resolve_t2i_model(
        name, places.folder, places.allow_download,
        progress=lambda fr, msg: reporter.update(0.1 * fr, msg))
    device = select_device(device)
    key = ("t2i", folder, device)
    if key not in cache:
        reporter.update(0.1, f"Loading text-to-image model ({name}, {device})")
        cache[key] = load_pipeline(folder, device)
    ident = hub_id or os.path.basename(os.path.normpath(folder))
    steps, guidance = model_defaults(ident)
    steps = prompt.steps or steps
    guidance = guidance if prompt.guidance is None else prompt.guidance
    if prompt.negative and guidance <= 1.0:
        reporter.warn(f"--negative-prompt has no effect at guidance {guidance:g} ({ident}); "
                      "give --guidance 2 or more to use it")
    seed = random.randrange(2 ** 32) if prompt.seed is None else prompt.seed
    text = apply_template(prompt.text, prompt.template)
    reporter.update(0.15, f"Generating the image (seed {seed})")

    def on_step(done, total):  # measured on 2 CPU cores, sd-turbo at 512 px: a step takes
        # ~13 s, decoding the latents (VAE) after the last one ~30 s
        reporter.update(0.15 + 0.55 * done / total, f"Denoising step {done} of {total}")
        if done == total:
            reporter.update(0.7, "Decoding the image")

    picture = generate(cache[key], text, negative_prompt=prompt.negative, steps=steps,
                       guidance=guidance, seed=seed, size=prompt.image_size, on_step=on_step)
    info = {"prompt": prompt.text, "prompt_used": text,
            "negative_prompt": prompt.negative or None, "seed": seed, "steps": steps,
            "guidance": guidance, "t2i_model": hub_id or folder,
            "image_size": list(picture.size)}
    return picture, info


def save_image(picture, path, info):
    """Write the picture as PNG, the prompt and seed in its text chunks (``path`` is
    a temporary name: the result's files are committed together)."""
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    for key in ("prompt", "prompt_used", "negative_prompt", "seed", "steps", "t2i_model"):
        if info.get(key) is not None:
            meta.add_text(f"img2mesh:{key}", str(info[key]))
    picture.save(path, format="PNG", pnginfo=meta)


def slug(prompt, limit=48):
    """A file name stem from a prompt: ``"A ceramic mug!"`` -> ``a_ceramic_mug``."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    out = ""
    for word in words:
        if len(out) + len(word) + 1 > limit:
            break
        out = f"{out}_{word}" if out else word
    return out or "prompt"


T2I_SOURCE = ModelSource(
    "text-to-image model", T2I_MODELS, "model_index.json", _is_pipeline_dir, _from_hf_cache,
    _download, folder_hint="give a diffusers pipeline folder (save_pretrained())",
    names_hint="", missing_hint="model_index.json, unet/, vae/, text_encoder/, tokenizer/, "
    "scheduler/")
