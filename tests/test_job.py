"""The typed job: every option of the command line reaches exactly the part of the job its
stage reads, and the parts are frozen."""

import dataclasses

import pytest

from blender_img2mesh.pipeline import catalog
from blender_img2mesh.pipeline.command.arguments import build_parser, parse_args
from blender_img2mesh.pipeline.job import Job, as_job

#: options that say how the command runs, not what the job makes
NOT_JOB = {"help", "version", "json", "quiet", "verbose", "download",
           # one object from several photos: the multi-view driver's (pipeline/multiview)
           "views", "cameras", "sequential",
           # where the work runs (a batch's photos, --views' per-view stages)
           "ray", "ray_actors"}
#: a value other than the default, per option, and where it must land in the job
CHANGES = {
    "segmenter": (["--segmenter", "silueta"], ("mask", "segmenter"), "silueta"),
    "mask": (["--mask", "m.png"], ("mask", "file"), "m.png"),
    "keep_background": (["--keep-background"], ("mask", "keep_background"), True),
    "depth_model": (["--depth-model", "inflate"], ("depth", "model"), "inflate"),
    "depth_map": (["--depth-map", "d.npy"], ("depth", "file"), "d.npy"),
    "depth_kind": (["--depth-kind", "metric"], ("depth", "kind"), "metric"),
    "depth_scale": (["--depth-scale", "0.5"], ("depth", "scale"), 0.5),
    "thickness": (["--thickness", "0.3"], ("depth", "thickness"), 0.3),
    "device": (["--device", "cpu"], ("depth", "device"), "cpu"),
    "depth_backend": (["--depth-backend", "torch"], ("depth", "backend"), "torch"),
    "fov": (["--fov", "40"], ("depth", "fov"), 40.0),
    "depth_variant": (["--depth-variant", "fp16"], ("depth", "variant"), "fp16"),
    "models_dir": (["--models-dir", "/tmp/m"], ("models", "folder"), "/tmp/m"),
    "offline": (["--offline"], ("models", "allow_download"), False),
    "max_size": (["--max-size", "256"], ("source", "max_size"), 256),
    "mesher": (["--mesher", "poisson"], ("geometry", "mesher"), "poisson"),
    "poisson_depth": (["--poisson-depth", "6"], ("geometry", "poisson_depth"), 6),
    "back": (["--back", "mirror"], ("geometry", "back"), "mirror"),
    "target_faces": (["--target-faces", "500"], ("geometry", "target_faces"), 500),
    "output": (["-o", "x.glb"], ("output", "path"), "x.glb"),
    "preview": (["--preview", "p.png"], ("output", "preview"), "p.png"),
    "frame": (["--frame", "camera"], ("output", "frame"), "camera"),
    "size": (["--size", "3"], ("output", "size"), 3.0),
    "color": (["--color", "vertex"], ("output", "color"), "vertex"),
    "texture_size": (["--texture-size", "512"], ("output", "texture_size"), 512),
    "texture_format": (["--texture-format", "png"], ("output", "texture_format"), "png"),
    "texture_quality": (["--texture-quality", "80"], ("output", "texture_quality"), 80),
}
PROMPT_CHANGES = {
    "prompt": (["--prompt", "a mug"], ("text",), "a mug"),
    "prompt_template": (["--prompt-template", "{prompt}!"], ("template",), "{prompt}!"),
    "negative_prompt": (["--negative-prompt", "blur"], ("negative",), "blur"),
    "t2i_model": (["--t2i-model", "sdxl-turbo"], ("model",), "sdxl-turbo"),
    "seed": (["--seed", "7"], ("seed",), 7),
    "steps": (["--steps", "3"], ("steps",), 3),
    "guidance": (["--guidance", "2"], ("guidance",), 2.0),
    "image_size": (["--image-size", "256x128"], ("image_size",), (256, 128)),
}


def _get(obj, path):
    for name in path:
        obj = getattr(obj, name)
    return obj


def test_every_option_is_in_the_job_or_says_how_the_command_runs():
    dests = {a.dest for a in build_parser()._actions} - NOT_JOB - {"input"}
    assert dests == set(CHANGES) | set(PROMPT_CHANGES), \
        "an option was added or renamed: give it a place in job.Job and in this test"


@pytest.mark.parametrize("dest", sorted(CHANGES))
def test_an_option_lands_in_its_stage_part(dest, monkeypatch):
    monkeypatch.delenv("IMG2MESH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    flags, path, value = CHANGES[dest]
    base = Job.from_args(parse_args(["photo.png"]))
    job = Job.from_args(parse_args(["photo.png", *flags]))
    assert _get(job, path) == value
    assert _get(base, path) != value
    # nothing else moved but what the option means (keep_background also drops the outline)
    changed = {(part.name, f.name) for part in dataclasses.fields(Job) if part.name != "batch_info"
               for f in dataclasses.fields(getattr(job, part.name))
               if getattr(getattr(job, part.name), f.name) !=
               getattr(getattr(base, part.name), f.name)}
    expected = {path}
    if dest == "keep_background":
        expected.add(("geometry", "whole_picture"))
    assert changed == expected


@pytest.mark.parametrize("dest", sorted(PROMPT_CHANGES))
def test_a_prompt_option_lands_in_the_prompt(dest):
    flags, path, value = PROMPT_CHANGES[dest]
    args = ["--prompt", "a cup", *flags] if dest != "prompt" else flags
    job = Job.from_args(parse_args(args))
    assert job.source.photo is None
    assert _get(job.source.prompt, path) == value


def test_defaults_come_from_the_catalog():
    job = Job.from_args(parse_args(["photo.png"]))
    assert job.source.max_size == catalog.DEFAULTS["max_size"]
    assert job.geometry.poisson_depth == catalog.DEFAULTS["poisson_depth"]
    assert job.output.size == catalog.DEFAULTS["size"]
    assert job.output.texture_quality == catalog.DEFAULTS["texture_quality"]
    assert job.mask.segmenter == catalog.DEFAULT_SEGMENTER
    assert job.output.path == "photo.ply"  # in the current folder
    assert job.inputs == ["photo.png"]


def test_parts_are_frozen_and_a_job_passes_through():
    job = Job.from_args(parse_args(["photo.png", "--mask", "m.png", "--depth-map", "d.npy"]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.depth.model = "inflate"
    assert as_job(job) is job
    assert job.inputs == ["photo.png", "m.png", "d.npy"]
