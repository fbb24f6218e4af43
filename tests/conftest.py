"""Shared fixtures: real photos, the real u2netp model, tiny random depth models, and
helpers to run the pipeline in-process or as the command line."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- environment


@pytest.fixture(scope="session", autouse=True)
def _isolated_hub_cache(tmp_path_factory):
    """An empty Hugging Face cache for the whole session (also for subprocesses), so a
    model cached on the developer's machine never changes what a test sees."""
    home = tmp_path_factory.mktemp("hf_home")
    saved = {k: os.environ.get(k) for k in ("HF_HOME", "HF_HUB_CACHE", "HF_HUB_DISABLE_TELEMETRY",
                                            "IMG2MESH_OFFLINE")}
    os.environ["HF_HOME"] = str(home)
    os.environ["HF_HUB_CACHE"] = str(home / "hub")
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.pop("IMG2MESH_OFFLINE", None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def u2netp_dir():
    """The models folder holding the real rembg u2netp.onnx (``scripts/get_models.py``)."""
    from blender_img2mesh.pipeline.models import default_models_dir

    folder = default_models_dir()
    weights = os.path.join(folder, "u2netp.onnx")
    if not os.path.isfile(weights):
        proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "get_models.py"),
                               "--models-dir", folder], capture_output=True, text=True,
                              timeout=600)
        if not os.path.isfile(weights):
            pytest.fail(f"u2netp.onnx is missing from {folder} and scripts/get_models.py could "
                        f"not fetch it (exit {proc.returncode}): {proc.stderr.strip()[-500:]}. "
                        "Run 'python scripts/get_models.py' before the tests.", pytrace=False)
    return folder


@pytest.fixture
def models_dir_with_u2netp(tmp_path, u2netp_dir):
    """A fresh, otherwise empty models folder that holds only u2netp.onnx."""
    folder = tmp_path / "models"
    folder.mkdir()
    os.symlink(os.path.join(u2netp_dir, "u2netp.onnx"), folder / "u2netp.onnx")
    return str(folder)


# ---------------------------------------------------------------- real photos


@pytest.fixture(scope="session")
def skimage_data():
    import skimage.data

    return os.path.dirname(skimage.data.__file__)


@pytest.fixture(scope="session")
def photo(skimage_data):
    """photo("coffee.png") -> path of a real photo shipped with scikit-image / matplotlib."""

    def get(name):
        if name == "grace_hopper.jpg":
            import matplotlib

            path = os.path.join(matplotlib.get_data_path(), "sample_data", name)
        else:
            path = os.path.join(skimage_data, name)
        assert os.path.isfile(path), f"test photo missing: {path}"
        return path

    return get


@pytest.fixture(scope="session")
def astronaut_small(photo):
    """A real photo as a small RGB array (120 x 160)."""
    return np.asarray(Image.open(photo("astronaut.png")).convert("RGB").resize((160, 120),
                                                                             Image.LANCZOS))


# ---------------------------------------------------------------- running


@pytest.fixture
def run_job():
    """run_job([...argv]) -> (result, events): the pipeline in this process."""
    from blender_img2mesh.pipeline.cli import parse_args
    from blender_img2mesh.pipeline.progress import Reporter
    from blender_img2mesh.pipeline.run import run

    def go(argv, cache=None):
        reporter = Reporter()
        result = run(parse_args([str(a) for a in argv]), reporter, cache=cache)
        return result, reporter.events

    return go


def _cli(argv, module="blender_img2mesh", stdin=None, timeout=300, env=None):
    full_env = dict(os.environ)
    # in-process runs point rembg's $U2NET_HOME at a models folder: a user's shell has
    # no such thing, and a child that inherited it would look there first
    full_env.pop("U2NET_HOME", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", module, *[str(a) for a in argv]],
                          input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=REPO)


@pytest.fixture
def cli():
    """cli([...argv]) -> CompletedProcess of ``python -m blender_img2mesh``."""
    return _cli


@pytest.fixture
def worker():
    """worker(stdin_text) -> CompletedProcess of ``python -m ...pipeline.worker``."""

    def go(stdin, timeout=300):
        return _cli([], module="blender_img2mesh.pipeline.worker", stdin=stdin,
                    timeout=timeout)

    return go


def invoke(argv):
    """The command line in this process: ``(exit code, stdout, stderr)`` as
    ``cli.main`` gives them (argument errors refused, the job run), without its signal
    handlers and file-descriptor juggling."""
    import contextlib
    import io

    from blender_img2mesh.pipeline import cli

    argv = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
        try:
            args = cli.parse_args(argv)
        except cli.Img2MeshError as exc:
            code = cli.refuse(exc, cli.wants_json(argv), out)
        else:
            code = cli.run_cli(args, out)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli_in_process():
    """cli_in_process([...argv]) -> (code, stdout, stderr): see :func:`invoke`."""
    return invoke


def json_lines(text):
    """Every non-empty line parsed as JSON (fails on the first that is not)."""
    events = []
    for line in text.splitlines():
        if line.strip():
            try:
                events.append(json.loads(line))
            except ValueError:
                pytest.fail(f"stdout line is not JSON: {line!r}")
    return events


@pytest.fixture
def parse_json_lines():
    return json_lines


def read_mesh(path):
    """(vertices Nx3 float, triangles Mx3 int, colors Nx3 float 0..1) via open3d."""
    import open3d as o3d

    mesh = o3d.io.read_triangle_mesh(str(path))
    return (np.asarray(mesh.vertices), np.asarray(mesh.triangles),
            np.asarray(mesh.vertex_colors))


@pytest.fixture
def mesh_reader():
    return read_mesh


# ---------------------------------------------------------------- synthetic scenes


def focal(width, height, fov):
    return 0.5 * max(width, height) / math.tan(math.radians(fov) / 2.0)


def pixel_rays(width, height, f):
    """Per-pixel (x/z, y/z) of the pipeline's pinhole camera (pixel centres)."""
    u = (np.arange(width) + 0.5 - 0.5 * width) / f
    v = (np.arange(height) + 0.5 - 0.5 * height) / f
    return np.broadcast_to(u[None, :], (height, width)), np.broadcast_to(v[:, None],
                                                                         (height, width))


def sphere_depth(width, height, fov, centre, radius):
    """(depth along z, hit mask) of a sphere seen by the pipeline's camera; background
    pixels get the sphere's far depth."""
    f = focal(width, height, fov)
    a, b = pixel_rays(width, height, f)
    d = np.stack([a, b, np.ones_like(a)], axis=-1)
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    c = np.asarray(centre, float)
    proj = d @ c
    disc = proj ** 2 - (c @ c - radius ** 2)
    hit = disc > 0
    t = proj - np.sqrt(np.clip(disc, 0.0, None))
    z = np.where(hit, t * d[..., 2], c[2] + radius)
    return z.astype(np.float32), hit


@pytest.fixture(scope="session")
def scene():
    """Helpers for synthetic depth scenes (focal length, rays, a sphere)."""

    class Scene:
        pass

    s = Scene()
    s.focal, s.pixel_rays, s.sphere_depth = focal, pixel_rays, sphere_depth
    return s


# ---------------------------------------------------------------- tiny depth models


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Tiny random-weight depth models saved like real ones (save_pretrained folders)."""
    import torch
    from transformers import (BeitConfig, DepthAnythingForDepthEstimation,
                              DPTConfig, DPTForDepthEstimation,
                              DPTImageProcessor, GLPNConfig, GLPNForDepthEstimation,
                              GLPNImageProcessor, ZoeDepthConfig, ZoeDepthForDepthEstimation)
    from transformers.models.zoedepth.image_processing_pil_zoedepth import (
        ZoeDepthImageProcessorPil)

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny_models")
    out = {}

    def save(name, model, processor):
        folder = root / name
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
        out[name] = str(folder)

    save("glpn", GLPNForDepthEstimation(GLPNConfig(
        num_encoder_blocks=4, depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1],
        hidden_sizes=[8, 16, 24, 32], num_attention_heads=[1, 1, 1, 1],
        patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2], decoder_hidden_size=16,
        mlp_ratios=[2, 2, 2, 2])), GLPNImageProcessor())

    def depth_anything(**extra):
        from tiny_onnx_repo import tiny_config

        return DepthAnythingForDepthEstimation(tiny_config(**extra))

    da_processor = DPTImageProcessor(size={"height": 518, "width": 518},
                                     keep_aspect_ratio=True, ensure_multiple_of=14,
                                     do_pad=False)
    save("depth_anything", depth_anything(), da_processor)
    save("depth_anything_metric", depth_anything(depth_estimation_type="metric", max_depth=20),
         da_processor)
    save("dpt", DPTForDepthEstimation(DPTConfig(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
        image_size=64, patch_size=16, neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16, backbone_out_indices=[0, 1, 2, 3])),
        DPTImageProcessor(size={"height": 64, "width": 64}, keep_aspect_ratio=False))
    # ZoeDepth: a BEiT backbone with relative position bias, metric bins and attractors
    save("zoedepth", ZoeDepthForDepthEstimation(ZoeDepthConfig(
        backbone_config=BeitConfig(
            image_size=64, patch_size=16, num_hidden_layers=4, hidden_size=32,
            intermediate_size=64, num_attention_heads=2, use_relative_position_bias=True,
            reshape_hidden_states=False, out_features=["stage1", "stage2", "stage3", "stage4"]),
        neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16, bottleneck_features=16,
        num_relative_features=8, bin_embedding_dim=16, num_attractors=[4, 4, 2, 1],
        bin_configurations=[{"n_bins": 8, "min_depth": 0.001, "max_depth": 10.0}],
        patch_transformer_hidden_size=16, patch_transformer_intermediate_size=32,
        patch_transformer_num_attention_heads=2, num_patch_transformer_layers=1)),
        ZoeDepthImageProcessorPil(size={"height": 64, "width": 96}, ensure_multiple_of=16))
    return out


def read_glb(path):
    """(vertices, triangles, colors) of the first mesh primitive of a .glb, read by the
    glTF 2.0 specification (BIN chunk or data: URI buffers) -- independent of open3d."""
    import base64
    import struct

    with open(path, "rb") as fh:
        data = fh.read()
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert magic == b"glTF" and version == 2 and length == len(data), "not a GLB 2.0 file"
    chunks, off = {}, 12
    while off < len(data):
        n, kind = struct.unpack("<I4s", data[off:off + 8])
        chunks[kind] = data[off + 8:off + 8 + n]
        off += 8 + n
    doc = json.loads(chunks[b"JSON"])
    buffers = []
    for b in doc["buffers"]:
        if "uri" in b:
            assert b["uri"].startswith("data:"), "external buffer files in a .glb"
            buffers.append(base64.b64decode(b["uri"].split(",", 1)[1]))
        else:
            buffers.append(chunks[b"BIN\x00"])
    types = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
    widths = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}

    def accessor(i):
        acc = doc["accessors"][i]
        view = doc["bufferViews"][acc["bufferView"]]
        buf = buffers[view.get("buffer", 0)]
        dtype = np.dtype(types[acc["componentType"]])
        k = widths[acc["type"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        stride = view.get("byteStride", dtype.itemsize * k)
        assert view.get("byteOffset", 0) + view["byteLength"] <= len(buf)
        rows = [np.frombuffer(buf, dtype, k, start + r * stride) for r in range(acc["count"])]
        out = np.array(rows)
        if acc.get("normalized") and dtype.kind == "u":
            out = out / np.iinfo(dtype).max
        return out

    prim = doc["meshes"][0]["primitives"][0]
    assert prim.get("mode", 4) == 4, "not a triangle list"
    V = accessor(prim["attributes"]["POSITION"]).astype(np.float64)
    T = accessor(prim["indices"]).reshape(-1, 3).astype(np.int64)
    C = accessor(prim["attributes"]["COLOR_0"])[:, :3].astype(np.float64) \
        if "COLOR_0" in prim["attributes"] else np.zeros((0, 3))
    return V, T, C


@pytest.fixture
def read_any_mesh():
    """Like mesh_reader, but .glb files are read by the glTF specification."""

    def go(path):
        return read_glb(path) if str(path).lower().endswith(".glb") else read_mesh(path)

    return go


# ---------------------------------------------------------------- tiny text-to-image model


@pytest.fixture(scope="session")
def tiny_t2i(tmp_path_factory):
    """A tiny random Stable Diffusion pipeline folder (64 x 64 pictures; tests/tiny_t2i.py),
    saved with save_pretrained(safe_serialization=True).  Named like a turbo model, so the
    turbo defaults (2 steps, no guidance) apply to it as to sd-turbo."""
    import tiny_t2i

    folder = tmp_path_factory.mktemp("t2i") / "tiny-sd-turbo"
    tiny_t2i.build(str(folder))
    return str(folder)



# ---------------------------------------------------------------- local model hubs

from hub_fixtures import github, hub  # noqa: E402,F401  (fixtures: tests/hub_fixtures.py)
