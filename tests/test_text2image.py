"""Text prompt -> picture -> mesh, with a tiny random diffusers pipeline (tiny_t2i) run
through the real code path."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from blender_img2mesh.pipeline.source import text2image
from blender_img2mesh.pipeline.command.checks import UsageError
from blender_img2mesh.pipeline.cli import parse_args, run_cli
from blender_img2mesh.pipeline.errors import Img2MeshError

FAST = ["--depth-model", "inflate", "--keep-background", "--max-size", "64"]


def reference_picture(folder, text, seed, steps=2, guidance=0.0, size=64):
    """What diffusers itself makes of ``text`` (independent of our code)."""
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    out = pipe(prompt=text, num_inference_steps=steps, guidance_scale=guidance, width=size,
               height=size, generator=torch.Generator("cpu").manual_seed(seed))
    return np.asarray(out.images[0])


def test_prompt_to_mesh_cli(tmp_path, tiny_t2i, cli, parse_json_lines, mesh_reader):
    out = tmp_path / "mug.ply"
    proc = cli(["--prompt", "a red ceramic mug", "--t2i-model", tiny_t2i, "--seed", "7",
                "-o", out, "--json", "--offline", *FAST])
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = parse_json_lines(proc.stdout)
    result = events[-1]
    assert result["event"] == "result"
    image = str(tmp_path / "mug_image.png")
    assert result["image"] == image and image in result["outputs"]
    assert sorted(os.listdir(tmp_path)) == ["mug.json", "mug.ply", "mug_image.png",
                                            "mug_texture.jpg"]
    # the template framed the prompt, the turbo defaults applied, the seed is kept
    expected = text2image.PROMPT_TEMPLATE.replace("{prompt}", "a red ceramic mug")
    side = json.loads((tmp_path / "mug.json").read_text())
    assert side["prompt"] == "a red ceramic mug" and side["prompt_used"] == expected
    assert (side["seed"], side["steps"], side["guidance"]) == (7, 2, 0.0)
    assert side["t2i_model"] == tiny_t2i and side["image"] == image
    # the saved picture is exactly what diffusers makes of that prompt with that seed
    picture = Image.open(image)
    assert picture.size == (64, 64) and picture.text["img2mesh:prompt_used"] == expected
    np.testing.assert_array_equal(np.asarray(picture.convert("RGB")),
                                  reference_picture(tiny_t2i, expected, 7))
    # progress: one event per denoising step, inside the prompt stage, never backwards
    progress = [e for e in events if e["event"] == "progress"]
    messages = [e["message"] for e in progress if e["stage"] == "prompt"]
    assert messages[-3:] == ["Denoising step 1 of 2", "Denoising step 2 of 2",
                             "Decoding the image"]
    assert progress[0]["stage"] == "prompt"
    assert "load" not in {e["stage"] for e in progress}  # nothing to load from disk
    fractions = [e["fraction"] for e in progress]
    assert fractions == sorted(fractions)
    last_prompt = max(e["fraction"] for e in progress if e["stage"] == "prompt")
    assert 0.5 < last_prompt < 0.8  # generation weighs most of the bar (4/5)
    # the mesh covers the picture (--keep-background) and takes its colors
    V, T, C = mesh_reader(out)
    assert len(T) == result["faces"] > 1000
    assert np.abs(C.mean(axis=0) * 255 - np.asarray(picture).reshape(-1, 3).mean(axis=0)).max() \
        < 12


def test_seed_template_and_cache(tmp_path, tiny_t2i, run_job):
    cache = {}

    def go(name, *extra):
        result, events = run_job(["--prompt", "a blue teapot", "--t2i-model", tiny_t2i,
                                  "-o", tmp_path / f"{name}.ply", "--offline", "--models-dir",
                                  tmp_path / "models", "--depth-model",
                                  "auto", "--keep-background", "--max-size", "64", *extra],
                                 cache=cache)
        return np.asarray(Image.open(result["image"])), result, events

    first, result, events = go("a", "--seed", "1")
    again, _, events_again = go("b", "--seed", "1")
    other, _, _ = go("c", "--seed", "2")
    framed, framed_result, _ = go("d", "--seed", "1", "--prompt-template",
                                  "a photo of {prompt} on a table")
    np.testing.assert_array_equal(first, again)
    assert np.abs(first.astype(int) - other).mean() > 1.0
    assert framed_result["prompt_used"] == "a photo of a blue teapot on a table"
    assert np.abs(first.astype(int) - framed).mean() > 0.1  # the words reach the model
    # auto depth still works offline after generation: inflation, with a warning
    assert result["depth_model"] == "inflate"
    assert any("inflation" in e["message"] for e in events if e["event"] == "warning")
    # the warm worker's cache: the pipeline was loaded once
    assert [k for k in cache if k[0] == "t2i"] == [("t2i", tiny_t2i, "cpu")]
    loads = [e for e in events_again if "Loading text-to-image model" in e.get("message", "")
             and ", cpu)" in e["message"]]
    assert not loads


def test_random_seed_is_recorded(tmp_path, tiny_t2i, run_job):
    result, _ = run_job(["--prompt", "a chair", "--t2i-model", tiny_t2i, "--steps", "1",
                         "--image-size", "96x64", "-o", tmp_path / "chair.obj", *FAST])
    assert isinstance(result["seed"], int) and result["steps"] == 1
    with Image.open(result["image"]) as picture:
        assert picture.size == (96, 64) and result["image_size"] == [96, 64]
    again, _ = run_job(["--prompt", "a chair", "--t2i-model", tiny_t2i, "--steps", "1",
                        "--image-size", "96x64", "--seed", str(result["seed"]),
                        "-o", tmp_path / "again.obj", *FAST])
    np.testing.assert_array_equal(np.asarray(Image.open(result["image"])),
                                  np.asarray(Image.open(again["image"])))


def test_offline_hub_model_is_a_clear_error(tmp_path, cli, parse_json_lines):
    out_dir, models = tmp_path / "out", tmp_path / "models"
    out_dir.mkdir()
    proc = cli(["--prompt", "a mug", "-o", out_dir / "mug.ply", "--t2i-model",
                "stabilityai/sd-turbo", "--models-dir", models, "--json", *FAST],
               env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    error = parse_json_lines(proc.stdout)[-1]
    assert error["event"] == "error" and error["kind"] == "model"
    assert "text-to-image model 'stabilityai/sd-turbo'" in error["message"]
    assert "downloads are off" in error["message"]
    target = str(models / "stabilityai--sd-turbo")
    assert error["file"] == target and target in error["hint"]
    assert "allow downloads" in error["hint"]
    assert os.listdir(out_dir) == [] and not models.exists()


def test_offline_default_model_in_process(tmp_path, run_job):
    with pytest.raises(Img2MeshError, match=r"'sd-turbo' \(stabilityai/sd-turbo\) is not "
                       "downloaded") as info:
        run_job(["--prompt", "a mug", "-o", tmp_path / "mug.ply", "--offline",
                 "--models-dir", tmp_path / "models"])
    assert info.value.kind == "model"
    assert os.listdir(tmp_path) == []


def test_models_folder_is_looked_at_first(tmp_path, tiny_t2i):
    models = tmp_path / "models"
    models.mkdir()
    os.symlink(tiny_t2i, models / "org--tiny")
    assert text2image.resolve_t2i_model("org/tiny", str(models), False) == \
        (str(models / "org--tiny"), "org/tiny")
    with pytest.raises(Img2MeshError, match="no model_index.json"):
        text2image.resolve_t2i_model(str(tmp_path), str(models), False)
    with pytest.raises(Img2MeshError, match="folder not found"):
        text2image.resolve_t2i_model(str(tmp_path / "nope"), str(models), False)


def test_interrupt_during_denoising_leaves_nothing(tmp_path, tiny_t2i):
    """Ctrl-C while the image is generated: exit 130, no file written."""

    class Interrupting:
        lines = []

        def write(self, line):
            self.lines.append(line)
            if "Denoising step 1" in line:
                raise KeyboardInterrupt

        def flush(self):
            pass

    out = Interrupting()
    args = parse_args(["--prompt", "a mug", "--t2i-model", tiny_t2i, "-o",
                       str(tmp_path / "mug.ply"), "--json", *FAST])
    assert run_cli(args, out) == 130
    assert json.loads(out.lines[-1])["kind"] == "cancelled"
    assert os.listdir(tmp_path) == []


def test_prompt_arguments():
    assert parse_args(["--prompt", "A Ceramic Mug!"]).output == "a_ceramic_mug.ply"
    assert parse_args(["--prompt", "a mug", "--image-size", "512"]).image_size == (512, 512)
    for argv, message in [
        (["photo.jpg", "--prompt", "a mug"], "not both"),
        ([], "give a photo (INPUT) or --prompt TEXT"),
        (["--prompt", "  "], "--prompt is empty"),
        (["--prompt", "a mug", "--mask", "m.png"], "need a photo"),
        (["--prompt", "a mug", "--prompt-template", "a photo"], "must contain {prompt}"),
        (["--prompt", "a mug", "--image-size", "100"], "multiples of 8"),
        (["--prompt", "a mug", "--steps", "0"], "--steps must be"),
    ]:
        with pytest.raises(UsageError) as info:
            parse_args(argv)
        assert info.value.exit_code == 2
        assert message in info.value.one_line(), argv


def test_warm_worker_keeps_the_pipeline(tmp_path, tiny_t2i, worker, parse_json_lines):
    def job(name, seed):
        return json.dumps({"id": name, "args": ["--prompt", "a cup", "--t2i-model", tiny_t2i,
                                                "--seed", str(seed), "-o",
                                                str(tmp_path / f"{name}.ply"), *FAST]})

    proc = worker("\n".join([job("one", 1), job("two", 2)]) + "\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = parse_json_lines(proc.stdout)
    for name in ("one", "two"):
        assert [e for e in events if e.get("id") == name][-1]["event"] == "result"
        assert (tmp_path / f"{name}_image.png").is_file()
    loading = [e["id"] for e in events if e["event"] == "progress" and
               e["message"].startswith("Loading text-to-image model") and ", cpu)" in
               e["message"]]
    assert loading == ["one"]  # the second job found it loaded


def test_download_fetches_safetensors_only(tmp_path, tiny_t2i, hub):
    """The real hub download (huggingface_hub against the local hub of the ``hub``
    fixture): configs, tokenizer and the fp16 weights where a component has them, its
    full weights where not; never pickles or the single-file checkpoint."""
    import shutil

    repo = tmp_path / "hub" / "org--tiny"
    shutil.copytree(tiny_t2i, repo)
    for comp in ("unet", "vae"):  # fp16 variants beside the full weights
        shutil.copy(repo / comp / "diffusion_pytorch_model.safetensors",
                    repo / comp / "diffusion_pytorch_model.fp16.safetensors")
    (repo / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    (repo / "sd_turbo.safetensors").write_bytes(b"single-file checkpoint")
    hub.add("org/tiny", repo)
    hub.in_process()
    models, seen = tmp_path / "models", []
    folder, hub_id = text2image.resolve_t2i_model("org/tiny", str(models), True,
                                                  progress=lambda fr, msg: seen.append(fr))
    assert (folder, hub_id) == (str(models / "org--tiny"), "org/tiny")
    got = sorted(str(p.relative_to(folder)) for p in models.rglob("*") if p.is_file())
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in got
    assert "vae/diffusion_pytorch_model.fp16.safetensors" in got
    assert "text_encoder/model.safetensors" in got  # no fp16 variant: the full weights
    assert "model_index.json" in got and "tokenizer/tokenizer.json" in got
    assert not [f for f in got if f.endswith(".bin") or "/" not in f and
                f != "model_index.json"]
    assert "unet/diffusion_pytorch_model.safetensors" not in got
    assert os.listdir(models) == ["org--tiny"]  # the .partial folder was renamed
    assert hub.fetched("unet/diffusion_pytorch_model.fp16.safetensors")
    assert not hub.fetched("unet/diffusion_pytorch_model.safetensors")  # not both
    assert seen and seen[-1] == pytest.approx(1.0)
    # and it loads (fp16 files where present, float32 on the CPU) and draws
    pipe = text2image.load_pipeline(folder, "cpu")
    assert pipe.unet.dtype.is_floating_point and str(pipe.unet.dtype) == "torch.float32"
    picture = text2image.generate(pipe, "a mug", steps=1, seed=0)
    assert picture.size == (64, 64)
