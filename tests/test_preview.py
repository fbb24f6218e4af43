"""--preview: a real picture of the mesh."""

import numpy as np
import pytest
from PIL import Image

from blender_img2mesh.pipeline.errors import Img2MeshError


def test_preview_is_a_real_picture(tmp_path, run_job, photo):
    src = tmp_path / "cat.png"
    Image.open(photo("chelsea.png")).convert("RGB").resize((180, 120)).save(src)
    out, png = tmp_path / "cat.ply", tmp_path / "cat_preview.png"
    result, events = run_job([src, "-o", out, "--preview", png, "--keep-background",
                              "--depth-model", "inflate", "--max-size", 160,
                              "--poisson-depth", 6])
    assert result["preview"] == str(png) and str(png) in result["outputs"]
    assert "preview" in [e["stage"] for e in events if e["event"] == "progress"]
    img = Image.open(png)
    img.load()
    assert img.format == "PNG" and img.width >= 200 and img.height >= 100
    arr = np.asarray(img.convert("RGB")).astype(int)
    background = np.median(arr.reshape(-1, 3), axis=0)
    drawn = np.abs(arr - background).sum(axis=2) > 30
    assert 0.05 < drawn.mean() < 0.9, "the preview shows (almost) nothing"
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) > 50
    # the cat's colors are in it: warm (orange/brown) pixels where the mesh is drawn
    r, g, b = arr[..., 0], arr[..., 1], arr[..., 2]
    assert ((r > b + 20) & drawn).sum() > 0.1 * drawn.sum()


def test_preview_of_a_camera_frame_mesh(tmp_path, run_job, photo):
    src = tmp_path / "cup.png"
    Image.open(photo("coffee.png")).convert("RGB").resize((150, 100)).save(src)
    png = tmp_path / "p.png"
    run_job([src, "-o", tmp_path / "cup.ply", "--preview", png, "--keep-background",
             "--depth-model", "inflate", "--frame", "camera", "--max-size", 128,
             "--poisson-depth", 6])
    arr = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) > 50


def test_preview_folder_missing_fails_before_work(tmp_path, run_job, photo):
    with pytest.raises(Img2MeshError, match="preview folder does not exist"):
        run_job([photo("coffee.png"), "-o", tmp_path / "x.ply", "--preview",
                 tmp_path / "nope" / "p.png", "--keep-background", "--depth-model", "inflate"])
    assert list(tmp_path.iterdir()) == []
