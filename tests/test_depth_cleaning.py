"""Cleaning the depth image: depth jumps (flying pixels) and outliers on the pixel grid,
with known answers, and the local medians they use."""

import numpy as np
import pytest
from scipy import ndimage

from blender_img2mesh.pipeline.geometry import camera


def test_depth_edges_keep_a_grazing_surface_and_cut_a_jump():
    """A side seen at 87 degrees (steps of ~19 footprints, steady) is surface; a jump
    from one surface to another, or a lone spike, is not."""
    f, h, w = 500.0, 40, 60
    z = np.full((h, w), 4.0)
    ramp = np.arange(10) * 19.0 * 4.0 / f  # ten steady steep steps
    z[:, 20:30] = 4.0 + ramp
    z[:, 30:] = 4.0 + ramp[-1]  # a flat top after the grazing side
    z[:, 45:] += 1.0  # a jump of 1 unit (125 footprints) onto a farther surface
    z[10, 10] += 0.3  # a spike
    mask = np.ones_like(z, bool)
    edges = camera.depth_edges(z, f, mask=mask)
    # (its two creases count as jumps: one steady neighbour is not enough)
    assert not edges[:, 22:28].any(), "the grazing side was cut"
    assert edges[:, 44:46].all(), "the jump was kept"
    assert edges[10, 9:12].all()
    out = camera.depth_outliers(z, mask, f)
    assert out[10, 10] and not out[:, 22:28].any()
    # without steady neighbours the same steep step is a jump (the old rule)
    single = np.full((h, w), 4.0)
    single[:, 30:] += 19.0 * 4.0 / f
    assert camera.depth_edges(single, f, mask=mask)[:, 29:31].all()


@pytest.mark.parametrize("size", [3, 5])
def test_window_median_is_scipy_s_median_filter(size):
    rng = np.random.default_rng(3)
    img = rng.random((37, 53)).astype(np.float32)
    ys, xs = np.nonzero(np.ones_like(img, bool))  # every pixel, borders included
    want = ndimage.median_filter(img, size=size, mode="nearest")
    got = camera.window_median(img, ys, xs, size, chunk=100)  # several chunks
    np.testing.assert_array_equal(got, want.ravel())


def test_depth_outliers_near_the_mask_match_the_whole_image_filter():
    """Computed at the mask and its ring only, the outliers and medians there are those
    of median filters over the whole image (the rule as first written)."""
    rng = np.random.default_rng(5)
    f, h, w = 300.0, 60, 80
    yy, xx = np.mgrid[:h, :w]
    mask = (yy - 30) ** 2 / 20 ** 2 + (xx - 40) ** 2 / 28 ** 2 < 1
    z = (2.0 + 0.002 * xx + 0.3 * np.sqrt(np.clip(1 - ((yy - 30) / 20.0) ** 2 -
                                                  ((xx - 40) / 28.0) ** 2, 0, 1)))
    z = camera.extend_outside(z.astype(np.float32), mask)
    z[rng.integers(0, h, 30), rng.integers(0, w, 30)] += 0.2  # spikes
    out, med = camera.depth_outliers(z, mask, f, return_median=True)

    full = ndimage.median_filter(z, size=5, mode="nearest")
    dev = np.abs(z - full)
    spread = 1.4826 * np.median(dev[mask])
    step = np.zeros_like(z)
    step[:, :-1] = np.abs(np.diff(z, axis=1))
    step[:-1, :] = np.maximum(step[:-1, :], np.abs(np.diff(z, axis=0)))
    slope = ndimage.median_filter(step, size=5, mode="nearest")
    want = dev > np.maximum(np.maximum(6.0 * spread, 3.0 * z / f), 3.0 * slope)
    ring = ndimage.binary_dilation(mask, np.ones((3, 3), bool))
    np.testing.assert_array_equal(out[ring], want[ring])
    np.testing.assert_array_equal(med[ring], full[ring])
    assert not out[~ring].any() and np.array_equal(med[~ring], z[~ring])
    assert out[mask].sum() >= 10, "the spikes inside the mask are outliers"
