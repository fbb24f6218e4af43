"""u2netp without rembg (pipeline/mask/u2net.py): the same mask as rembg's own session on real
photos, and a run with the default background removal that never imports rembg."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from blender_img2mesh.pipeline.mask import segment, u2net

PHOTOS = ["coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg"]


@pytest.fixture(scope="module")
def sessions(u2netp_dir):
    os.environ["U2NET_HOME"] = u2netp_dir
    import rembg

    theirs = rembg.new_session("u2netp")
    ours = segment.rembg_session("u2netp", u2netp_dir, allow_download=False)
    return rembg, theirs, ours


@pytest.mark.parametrize("name", PHOTOS)
def test_mask_equals_rembgs(sessions, skimage_data, name):
    rembg, theirs, ours = sessions
    assert isinstance(ours, u2net.U2NetSession)
    img = Image.open(os.path.join(skimage_data, name)).convert("RGB")
    want = np.asarray(rembg.remove(img, session=theirs, only_mask=True,
                                   post_process_mask=False))
    got = np.asarray(ours.predict(img)[0])
    assert got.shape == want.shape == (img.height, img.width)
    assert np.abs(got.astype(int) - want).max() <= 1, "the soft mask differs"
    mask = segment.remove_background(np.asarray(img), ours)
    assert (mask == (want >= 128)).mean() > 0.9999
    assert 0.01 < mask.mean() < 0.99, "a real object, not an empty or full mask"


def test_other_models_still_go_through_rembg(u2netp_dir, tmp_path):
    assert not segment.uses_rembg("u2netp", os.path.join(u2netp_dir, "u2netp.onnx"))
    assert segment.uses_rembg("u2netp", str(tmp_path / "u2netp.onnx")), \
        "weights missing: rembg downloads them"
    assert segment.uses_rembg("isnet-general-use") and segment.uses_rembg("birefnet-general")


def test_default_run_never_imports_rembg(tmp_path, u2netp_dir, skimage_data):
    """A whole run with u2netp and a depth map: rembg and its matting libraries stay out."""
    depth = tmp_path / "depth.npy"
    np.save(depth, np.full((64, 96), 2.0, np.float32))
    code = ("import runpy, sys, json\n"
            "try:\n"
            "    runpy.run_module('blender_img2mesh', run_name='__main__', alter_sys=True)\n"
            "finally:\n"
            "    heavy = sorted(m for m in ('rembg', 'pymatting', 'numba', 'skimage', 'pooch')"
            " if m in sys.modules)\n"
            "    print('MODULES ' + json.dumps(heavy), file=sys.stderr)\n")
    out = tmp_path / "coffee.ply"
    proc = subprocess.run(
        [sys.executable, "-c", code, os.path.join(skimage_data, "coffee.png"), "-o", str(out),
         "--depth-map", str(depth), "--models-dir", u2netp_dir, "--offline", "-q",
         "--max-size", "96"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES ")][-1]
    assert json.loads(line[len("MODULES "):]) == []
    assert out.is_file() and out.stat().st_size > 1000
