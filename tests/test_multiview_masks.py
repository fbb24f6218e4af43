"""The masks of ``--views`` made side by side (views_each.MASK_THREADS one-thread u2netp
sessions) are those made one at a time, in the photos' order, with progress per photo."""

import os

import numpy as np
import pytest
import skimage
from PIL import Image

from blender_img2mesh.pipeline.job import MaskSpec, Models
from blender_img2mesh.pipeline.multiview import views_each

PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")


@pytest.fixture(scope="module")
def photos():
    folder = os.path.join(os.path.dirname(skimage.__file__), "data")
    out = []
    for name in PHOTOS:
        rgb = Image.open(os.path.join(folder, name)).convert("RGB")
        rgb.thumbnail((320, 320))
        out.append((os.path.join(folder, name), np.asarray(rgb), None))
    return out


def test_side_by_side_masks_are_the_one_at_a_time_masks(photos, u2netp_dir, monkeypatch):
    shared = (MaskSpec(), Models(u2netp_dir, allow_download=False))
    cache = {}
    runner = views_each._Local(cache)
    finished = []
    together = runner.each("mask", photos, finished.append, shared=shared)
    assert finished == list(range(len(photos)))
    sessions = [c for k, c in cache.items() if k[0] == "side by side"]
    assert len(sessions) == views_each.MASK_THREADS == 2
    for own in sessions:  # each thread's own one-thread session, kept for the next job
        (session,) = [v for k, v in own.items() if k[0] == "rembg"]
        options = session.inner_session.get_session_options()
        assert options.intra_op_num_threads == 1 and not options.enable_cpu_mem_arena
    monkeypatch.setattr(views_each, "MASK_THREADS", 1)
    alone = views_each._Local({}).each("mask", photos, shared=shared)
    assert len(together) == len(alone) == len(photos)
    for (a, source_a), (b, source_b), (_, rgb, _) in zip(together, alone, photos):
        assert a.shape == rgb.shape[:2] and source_a == source_b == "u2netp"
        np.testing.assert_array_equal(a, b)
    # the photos' own masks, in their order: no two of these photos share one
    assert all(not np.array_equal(together[k][0], together[k + 1][0])
               for k in range(len(photos) - 1))
