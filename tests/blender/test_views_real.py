"""The Views source with the real ``img2mesh --views`` (tests/blender/test_views.py has the
flow with the fake worker): 16 views of a cup rendered by tests/multiview_scene.py in the
pipeline venv (the cup's mask in each PNG's alpha: this tests the flow and the camera
convention, not background removal), Generate through the real worker, the recovered
cameras added -- and the mesh seen through each of them lies on the cup in that camera's
photo (the sidecar's camera convention, the written mesh's frame, and Blender's cameras
agree)."""

import os
import subprocess

import bpy
import numpy as np

import helpers
from blender_img2mesh.blender.client import worker_client
from test_views import _pixel


def test_views_real_worker_on_a_rendered_set(addon, tmp_path):
    """The real ``--views`` method through the real worker: 16 views of a cup rendered by
    tests/multiview_scene.py (pipeline venv); one closed object, its cameras fitting the
    photos."""

    folder = tmp_path / "cup"
    code = ("import sys; sys.path.insert(0, 'tests'); from multiview_scene import render_set; "
            f"render_set({str(folder)!r}, shape='cup', views=16, size=(320, 240), masks=False, "
            "alpha=True)")
    subprocess.run([helpers.PIPELINE_PYTHON, "-c", code], cwd=helpers.REPO, check=True,
                   env=dict(os.environ, PYTHONPATH=helpers.REPO))
    worker_client.release()
    assert bpy.ops.img2mesh.generate(source="VIEWS", views=str(folder), view_cameras=True,
                                     size=2.0) == {"FINISHED"}
    obj = bpy.data.objects["cup"]
    assert len(obj.data.polygons) > 500 and obj.active_material is not None
    cams = [o for o in bpy.data.objects if o.type == "CAMERA"]
    assert len(cams) >= 15  # >= 95% of 16
    bpy.context.view_layer.update()
    verts = [obj.matrix_world @ v.co for v in obj.data.vertices]
    verts = verts[::max(1, len(verts) // 300)]
    for cam in cams:  # the mesh seen through each recovered camera lies on the cup
        photo = cam.data.background_images[0].image
        px = np.empty(photo.size[0] * photo.size[1] * 4, np.float32)
        photo.pixels.foreach_get(px)
        rgba = px.reshape(photo.size[1], photo.size[0], 4)[::-1]
        cup = rgba[..., 3] > 0.5  # the photo's alpha: the cup
        for _ in range(3):  # 3 px of tolerance
            p = np.pad(cup, 1)
            cup = cup | p[:-2, 1:-1] | p[2:, 1:-1] | p[1:-1, :-2] | p[1:-1, 2:]
        uv = np.array([_pixel(bpy.context.scene, cam, v) for v in verts]).astype(int)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < cup.shape[1]) & (uv[:, 1] >= 0) & \
            (uv[:, 1] < cup.shape[0])
        assert inside.all(), cam.name
        on_cup = cup[uv[:, 1], uv[:, 0]]
        assert on_cup.mean() > 0.97, (cam.name, on_cup.mean())
    worker_client.release()
