"""The fast weight loader (pipeline/depth/weights.py): the same model as ``from_pretrained``
where a checkpoint's keys are exactly the model's, and ``from_pretrained`` otherwise."""

import os
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForDepthEstimation

from blender_img2mesh.pipeline.depth import weights
from blender_img2mesh.pipeline.depth.estimate import DepthEstimator

NAMES = ["glpn", "depth_anything", "depth_anything_metric", "dpt"]


def _reference(folder):
    return AutoModelForDepthEstimation.from_pretrained(folder, use_safetensors=True).eval()


@pytest.mark.parametrize("name", NAMES)
def test_exact_load_is_from_pretrained_s_model(tiny_models, name):
    fast = weights.load_exact(tiny_models[name], AutoModelForDepthEstimation)
    assert fast is not None, "a save_pretrained folder must take the fast path"
    ref = _reference(tiny_models[name])
    assert type(fast) is type(ref) and not fast.training
    got, want = fast.state_dict(), ref.state_dict()
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].dtype == want[key].dtype and torch.equal(got[key], want[key]), key
    assert not any(t.is_meta for t in (*fast.parameters(), *fast.buffers()))
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert torch.equal(fast(pixel_values=x).predicted_depth,
                           ref(pixel_values=x).predicted_depth)


def _copy_with_weights(src, dst, change):
    shutil.copytree(src, dst)
    state = load_file(os.path.join(dst, "model.safetensors"))
    change(state)
    save_file(state, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
    return str(dst)


def test_extra_keys_go_through_from_pretrained(tmp_path, tiny_models, astronaut_small):
    """A checkpoint with a key the model does not have (an older export, a training
    leftover) is left to transformers, which ignores it; the model is the same."""
    folder = _copy_with_weights(tiny_models["glpn"], tmp_path / "extra",
                                lambda s: s.update(leftover=torch.zeros(3)))
    assert weights.load_exact(folder, AutoModelForDepthEstimation) is None
    est = DepthEstimator(folder, "cpu")
    assert est.loader == "from_pretrained"
    ref = DepthEstimator(tiny_models["glpn"], "cpu")
    assert ref.loader == "exact"
    np.testing.assert_array_equal(est.predict(astronaut_small)[0],
                                  ref.predict(astronaut_small)[0])


def test_missing_key_goes_through_from_pretrained(tmp_path, tiny_models):
    def drop(state):
        del state[next(k for k in state if k.endswith(".bias"))]

    folder = _copy_with_weights(tiny_models["dpt"], tmp_path / "missing", drop)
    assert weights.load_exact(folder, AutoModelForDepthEstimation) is None
    assert DepthEstimator(folder, "cpu").loader == "from_pretrained"


def test_sharded_checkpoint_goes_through_from_pretrained(tmp_path, tiny_models):
    folder = tmp_path / "sharded"
    _reference(tiny_models["glpn"]).save_pretrained(folder, max_shard_size="20KB")
    assert not (folder / "model.safetensors").exists()
    assert len(list(folder.glob("model-*.safetensors"))) > 1
    assert weights.load_exact(str(folder), AutoModelForDepthEstimation) is None
