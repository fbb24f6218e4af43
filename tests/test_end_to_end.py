"""Real photos through the whole pipeline with the real u2netp background removal."""

import json
import os

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from blender_img2mesh.pipeline.geometry import camera
from blender_img2mesh.pipeline.source import image_io
from blender_img2mesh.pipeline.mask import segment

FAST = ["--max-size", "192", "--poisson-depth", "6", "--offline"]


def _projected(V, f, w, h):
    uv = camera.project(V, f, w, h)
    return (np.clip(np.floor(uv[:, 0]).astype(int), 0, w - 1),
            np.clip(np.floor(uv[:, 1]).astype(int), 0, h - 1))


def test_coffee_with_u2netp(tmp_path, run_job, photo, u2netp_dir, mesh_reader):
    src = photo("coffee.png")
    out = tmp_path / "coffee.ply"
    result, events = run_job([src, "-o", out, "--frame", "camera", "--models-dir", u2netp_dir,
                              "--depth-model", "inflate", *FAST])
    assert result["mask"] == "u2netp" and result["segmenter"] == "u2netp"
    assert "segment" in [e["stage"] for e in events if e["event"] == "progress"]
    w, h = result["working_size"]
    assert max(w, h) == 192
    # the same mask, computed here with the same model
    rgb = image_io.resize_rgb(image_io.load_photo(src)[0], 192)
    session = segment.rembg_session("u2netp", u2netp_dir, allow_download=False)
    mask = segment.clean_mask(segment.remove_background(rgb, session))
    assert 0.05 < mask.mean() < 0.85, f"u2netp kept {mask.mean():.0%} of the picture"
    assert result["points"] <= mask.sum() < w * h
    V, T, C = mesh_reader(out)
    ui, vi = _projected(V, result["focal_px"], w, h)
    inside = ndimage.binary_dilation(mask, iterations=3)[vi, ui]
    assert inside.mean() > 0.98, "the mesh reaches into the removed background"
    hit = np.zeros((h, w), bool)
    hit[vi, ui] = True
    hit = ndimage.binary_dilation(hit, iterations=3)
    assert (hit & mask).sum() > 0.8 * mask.sum(), "the mesh misses much of the object"
    assert (hit & ~ndimage.binary_dilation(mask, iterations=4)).sum() < 0.02 * w * h
    # the mesh has the mask's proportions, and a plausible depth
    ys, xs = np.nonzero(mask)
    aspect_mask = (np.ptp(xs) + 1) / (np.ptp(ys) + 1)
    ext = np.ptp(V, axis=0)
    assert ext[0] / ext[1] == pytest.approx(aspect_mask, rel=0.2)
    assert 0.1 < ext[2] / ext[:2].max() < 1.0
    # colors come from the photo: the cup is mostly light, the coffee dark
    assert C.std() > 0.05


def test_keep_background_covers_whole_picture(tmp_path, run_job, photo, mesh_reader):
    out = tmp_path / "coffee.ply"
    result, events = run_job([photo("coffee.png"), "-o", out, "--frame", "camera",
                              "--keep-background", "--depth-model", "inflate", *FAST])
    assert result["mask"] == "none"
    assert "segment" not in [e["stage"] for e in events if e["event"] == "progress"]
    w, h = result["working_size"]
    V, _, _ = mesh_reader(out)
    ui, vi = _projected(V, result["focal_px"], w, h)
    hit = np.zeros((h, w), bool)
    hit[vi, ui] = True
    assert ndimage.binary_dilation(hit, iterations=3).mean() > 0.95


def test_blender_frame_defaults(tmp_path, run_job, photo, u2netp_dir, mesh_reader):
    out = tmp_path / "grace.ply"
    result, _ = run_job([photo("grace_hopper.jpg"), "-o", out, "--models-dir", u2netp_dir,
                         "--depth-model", "inflate", *FAST])
    V, T, C = mesh_reader(out)
    assert len(V) == result["vertices"] and len(T) == result["faces"]
    lo, hi = V.min(axis=0), V.max(axis=0)
    assert lo[2] == pytest.approx(0, abs=1e-4) and (hi - lo).max() == pytest.approx(2.0,
                                                                                  rel=1e-4)
    # a portrait: taller (Z) than wide (X)
    assert (hi - lo)[2] > (hi - lo)[0]
    side = json.loads((tmp_path / "grace.json").read_text())
    assert side["img2mesh_version"] and side["vertices"] == result["vertices"]
    assert set(side["timings"]) >= {"load", "model", "segment", "depth", "surface", "export"}


def test_real_disparity_map(tmp_path, run_job, photo, skimage_data, mesh_reader):
    """motorcycle_left.png with its real stereo disparity as a relative depth map."""
    disp = np.load(os.path.join(skimage_data, "motorcycle_disp.npz"))["arr_0"]
    npy = tmp_path / "disp.npy"
    np.save(npy, disp)
    out = tmp_path / "moto.ply"
    result, _ = run_job([photo("motorcycle_left.png"), "-o", out, "--depth-map", npy,
                         "--depth-kind", "relative", "--keep-background", "--frame", "camera",
                         *FAST])
    assert result["depth_kind"] == "relative" and result["depth_model"] == "depth-map"
    V, T, _ = mesh_reader(out)
    assert len(T) > 1000
    assert (V[:, 2] > 0).all()
    # larger disparity = nearer: the mesh's z follows 1/disparity where the disparity is valid
    w, h = result["working_size"]
    small = np.asarray(Image.fromarray(np.where(np.isfinite(disp), disp, 0).astype(np.float32),
                                       mode="F").resize((w, h), Image.NEAREST))
    ui, vi = _projected(V, result["focal_px"], w, h)
    d = small[vi, ui]
    ok = d > np.percentile(small[small > 0], 5)
    assert np.corrcoef(d[ok], 1.0 / V[ok, 2])[0, 1] > 0.9
