"""One object from several photos (``img2mesh --views``): cameras recovered by COLMAP, a
closed manifold mesh, the sidecar's camera convention, and the bad inputs -- on small sets
rendered here (tests/multiview_scene.py: a textured open cup, 14 views at 320x240, the
mask in each PNG's alpha channel)."""

import json
import os
import shutil

import multiview_scene as scene
import numpy as np
import open3d as o3d
import pytest
from PIL import Image

from benchmarks.multiview import eval as ev
from blender_img2mesh.pipeline.multiview import cameras as mvcams
from blender_img2mesh.pipeline.multiview import colmap
from blender_img2mesh.pipeline.progress import Reporter

VIEWS = 20


@pytest.fixture(scope="module")
def cup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cup")
    paths, cams, mesh = scene.render_set(str(folder / "photos"), "cup", VIEWS, masks=False,
                                         alpha=True)
    os.replace(folder / "photos" / "cameras.json", folder / "cameras.json")
    return folder, paths, cams, mesh


def _centres(table, names):
    return np.array([-np.array(table[n]["R"]).T @ np.array(table[n]["t"]) for n in names])


@pytest.mark.parametrize("per_view", [False, True], ids=["colmap-extraction", "per-view"])
def test_colmap_recovers_the_cameras(cup, per_view):
    """Both ways to the features: COLMAP's own extraction (here), and the per-view one (as
    on Ray's actors: here through the local runner) written into the database."""
    import types

    from blender_img2mesh.pipeline.multiview import views_each

    folder, paths, truth, _ = cup
    names = [os.path.basename(p) for p in paths]
    images = [np.asarray(Image.open(p))[..., :3] for p in paths]
    masks = [np.asarray(Image.open(p))[..., 3] > 127 for p in paths]
    reporter = Reporter()
    with views_each.runner(types.SimpleNamespace(ray=None), {}) as runner:
        found, points, agree = colmap.recover(images, masks, names, reporter,
                                              each=runner.each if per_view else None)
    assert agree >= colmap.AGREE
    assert len(found) >= 0.95 * VIEWS
    assert len(points) > 100
    reg = [n for n in names if n in found]
    est = np.array([found[n].centre for n in reg])
    true = _centres(truth, reg)
    s, R, t = ev.umeyama(est, true)
    err = np.linalg.norm((s * est @ R.T + t) - true, axis=1)
    assert err.max() < 0.03 * 1.0  # the cup is about 1 unit across
    f_true = truth[names[0]]["K"][0][0]
    assert abs(found[reg[0]].K[0, 0] / f_true - 1) < 0.03
    assert {e["stage"] for e in reporter.events if e["event"] == "progress"} >= \
        {"features", "matching", "cameras"}
    if per_view:  # (one view at a time: k/N as they finish)
        said = [e["message"] for e in reporter.events
                if e["event"] == "progress" and e["stage"] == "features"]
        assert f"Finding features (1/{VIEWS})" in said
        assert f"Finding features ({VIEWS}/{VIEWS})" in said
        assert runner.info["stages"] == ["features"]


def test_one_views_features_are_colmaps_with_its_mask(cup, tmp_path):
    """colmap.features_of (one view, as on a Ray actor): every keypoint on the widened mask,
    and the very features pycolmap.extract_features finds in the view's (stretched) PNG cut
    to the box around the object, with its mask file; write_database gives COLMAP's camera
    (the focal prior flagged), rig, frames and features (that they register the cameras:
    the test above, per-view)."""
    import pycolmap

    _, paths, _, _ = cup
    rgba = [np.asarray(Image.open(p)) for p in paths[:3]]
    images, masks = [a[..., :3] for a in rgba], [a[..., 3] > 127 for a in rgba]
    sift = colmap.sift_options(images[0].shape)
    features = [colmap.features_of(sift, im, m) for im, m in zip(images, masks)]
    for (kp, desc), mask in zip(features, masks):
        assert len(kp) > 100 and desc.dtype == np.uint8 and desc.shape == (len(kp), 128)
        x, y = kp[:, 0].astype(int), kp[:, 1].astype(int)
        assert colmap.widened(mask)[y, x].all()
        assert not mask[y, x].all()  # (the margin is used: features on the outline)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    rows, cols = colmap.crop_box(colmap.widened(masks[0]))
    assert (rows.stop - rows.start) * (cols.stop - cols.start) < 0.8 * masks[0].size
    Image.fromarray(colmap.stretched(images[0], masks[0])[rows, cols]).save(
        tmp_path / "images" / "a.png")
    Image.fromarray(colmap.widened(masks[0])[rows, cols].astype(np.uint8) * 255).save(
        tmp_path / "masks" / "a.png.png")
    reader = pycolmap.ImageReaderOptions()
    reader.mask_path = str(tmp_path / "masks")
    extraction = pycolmap.FeatureExtractionOptions()
    for key, value in sift.items():
        setattr(extraction.sift, key, value)
    pycolmap.extract_features(str(tmp_path / "colmap.db"), str(tmp_path / "images"),
                              ["a.png"], reader_options=reader, extraction_options=extraction,
                              device=pycolmap.Device.cpu)
    db = pycolmap.Database.open(str(tmp_path / "colmap.db"))
    kp, desc = db.read_keypoints(1), db.read_descriptors(1)
    db.close()
    kp[:, 0] += cols.start  # (the crop's pixels -> the view's)
    kp[:, 1] += rows.start
    np.testing.assert_array_equal(features[0][0][:, :2], kp[:, :2])
    np.testing.assert_array_equal(features[0][1], desc)

    colmap.write_database(pycolmap, str(tmp_path / "ours.db"), features, ["a", "b", "c"],
                          images[0].shape, focal_prior=300.0)
    db = pycolmap.Database.open(str(tmp_path / "ours.db"))
    (camera,) = db.read_all_cameras()
    assert camera.model == pycolmap.CameraModelId.SIMPLE_PINHOLE
    assert camera.has_prior_focal_length and list(camera.params) == [300.0, 160.0, 120.0]
    assert (db.num_rigs(), db.num_frames(), db.num_images()) == (1, 3, 3)
    for image, (kp, desc) in zip(sorted(db.read_all_images(), key=lambda i: i.name),
                                 features):
        assert image.camera_id == camera.camera_id
        np.testing.assert_array_equal(db.read_keypoints(image.image_id), kp)
        np.testing.assert_array_equal(db.read_descriptors(image.image_id), desc)
    db.close()


def test_features_here_are_each_views_in_order_with_a_helper_process(cup, monkeypatch):
    """Without Ray, colmap._features finds the last views' features in a helper process
    (features_helper) beside this one: every view's features_of, in the views' order;
    progress says k/N for each view, and the helper is gone afterwards.  A helper that
    fails costs nothing but time: its views are done here."""
    import subprocess

    from blender_img2mesh.pipeline.multiview import features_helper

    _, paths, _, _ = cup
    rgba = [np.asarray(Image.open(p)) for p in paths[:6]]
    images, masks = [a[..., :3] for a in rgba], [a[..., 3] > 127 for a in rgba]
    sift = colmap.sift_options(images[0].shape)
    expected = [colmap.features_of(sift, rgb, mask) for rgb, mask in zip(images, masks)]
    assert colmap._helper_share(len(images)) == 2
    children = []

    class Recorded(subprocess.Popen):
        def __init__(self, args, **kwargs):
            if fail:
                args = [args[0], "-c", "import sys; sys.exit(3)"]
            super().__init__(args, **kwargs)
            children.append(self)

    monkeypatch.setattr(features_helper.subprocess, "Popen", Recorded)
    for fail in (False, True):
        reporter = Reporter()
        found = colmap._features(images, masks, reporter, None, {}, "")
        assert children[-1].returncode == (3 if fail else 0)
        assert len(found) == len(expected)
        for (kp, desc), (kp_here, desc_here) in zip(expected, found):
            np.testing.assert_array_equal(kp_here, kp)
            np.testing.assert_array_equal(desc_here, desc)
        said = [e["message"] for e in reporter.events if e["event"] == "progress"]
        assert [f"Finding features ({k}/6)" for k in range(1, 7)] == \
            [m for m in said if m.startswith("Finding features (")]
    assert len(children) == 2


def _project_mask(v, f, cam, size):
    """The silhouette of mesh (v, f) seen by ``cam`` (sidecar dict): ray cast."""
    import open3d as o3d

    c = mvcams.Camera(cam["K"], cam["R"], cam["t"], size)
    sc = o3d.t.geometry.RaycastingScene()
    sc.add_triangles(o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(f.astype(np.uint32)))
    d = c.rays((size[1], size[0]))
    rays = np.hstack([np.broadcast_to(c.centre, d.shape), d]).astype(np.float32)
    hit = sc.cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    return np.isfinite(hit).reshape(size[1], size[0])


def test_views_make_a_closed_mesh_in_the_sidecars_cameras(cup, tmp_path, cli, read_any_mesh):
    folder, paths, _, _ = cup
    out = tmp_path / "object.ply"
    proc = cli(["--views", str(folder / "photos"), "-o", str(out), "--json",
                "--target-faces", "8000", "--texture-size", "512"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    stages = {e["stage"] for e in events if e["event"] == "progress"}
    assert {"features", "matching", "cameras", "surface", "texture", "export"} <= stages
    result = events[-1]
    assert result["event"] == "result" and result["watertight"] is True
    side = json.loads((tmp_path / "object.json").read_text())
    assert len(side["registered"]) >= 0.95 * VIEWS
    assert set(side["cameras"]) == set(side["registered"])
    import trimesh

    mesh = trimesh.load(out, process=True)
    # the texture's seams split vertices (one UV each): the surface is the welded one
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert len(mesh.split(only_watertight=False)) == 1
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    v, f = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    welded = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(v),
                                       o3d.utility.Vector3iVector(f.astype(np.int32)))
    assert welded.is_edge_manifold(allow_boundary_edges=False)
    assert welded.is_vertex_manifold() and welded.is_orientable()
    # largest side --size (2.0), centred on the origin, Z up
    assert abs(np.ptp(v, axis=0).max() - 2.0) < 1e-3
    assert np.abs(v.min(0) + v.max(0)).max() < 1e-3
    for name in ("view_00.png", "view_05.png", "view_12.png"):
        if name not in side["cameras"]:
            continue
        true = np.asarray(Image.open(folder / "photos" / name))[..., 3] > 127
        seen = _project_mask(v, f, side["cameras"][name], (320, 240))
        iou = (seen & true).sum() / (seen | true).sum()
        assert iou > 0.9, (name, iou)
    # RGBA photos -> a PNG texture (as for one photo with alpha), named in the sidecar
    assert side["texture"] == str(tmp_path / "object_texture.png")
    assert 256 < max(Image.open(side["texture"]).size) <= 512  # (--texture-size 512)


def test_given_cameras_keep_the_world_frame(cup, tmp_path, cli):
    folder, paths, truth, _ = cup
    out = tmp_path / "given.glb"
    proc = cli(["--views", *paths[:10], "--cameras", str(folder / "cameras.json"), "-o",
                str(out), "--frame", "camera", "--json", "--target-faces", "4000",
                "--texture-size", "256"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    side = json.loads((tmp_path / "given.json").read_text())
    assert side["camera_method"] == "given" and len(side["cameras"]) == 10
    for name, cam in side["cameras"].items():  # the given cameras, unchanged
        np.testing.assert_allclose(cam["R"], truth[name]["R"], atol=1e-6)
        np.testing.assert_allclose(cam["t"], truth[name]["t"], atol=1e-6)


def _refused(proc, tmp_path, words):
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and all(w in lines[0] for w in words), proc.stderr[-2000:]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(("out", ".out"))]


def test_two_photos_are_refused(cup, tmp_path, cli):
    _, paths, _, _ = cup
    proc = cli(["--views", *paths[:2], "-o", str(tmp_path / "out.ply")])
    _refused(proc, tmp_path, ["at least 3", "got 2"])


def test_identical_photos_are_refused(cup, tmp_path, cli):
    _, paths, _, _ = cup
    copies = []
    for i in range(4):
        copies.append(str(tmp_path / f"same_{i}.png"))
        shutil.copy(paths[0], copies[-1])
    proc = cli(["--views", *copies, "-o", str(tmp_path / "out.ply")])
    _refused(proc, tmp_path, ["same picture"])


def test_textureless_object_says_what_was_tried(tmp_path, cli):
    paths, _, _ = scene.render_set(str(tmp_path / "plain"), "box", 8, masks=False,
                                   alpha=True, plain=True)
    proc = cli(["--views", *paths, "-o", str(tmp_path / "out.ply")])
    _refused(proc, tmp_path, ["cameras found for only", "SIFT"])


def test_different_objects_are_refused(cup, tmp_path, cli):
    _, paths, _, _ = cup
    box, _, _ = scene.render_set(str(tmp_path / "box"), "box", 6, masks=False, alpha=True)
    mixed = [paths[0], paths[5], paths[10], *box[:1], *box[3:4]]
    for i, p in enumerate(mixed):  # distinct names
        shutil.copy(p, tmp_path / f"mix_{i}.png")
    proc = cli(["--views", *[str(tmp_path / f"mix_{i}.png") for i in range(len(mixed))],
                "-o", str(tmp_path / "out.ply")])
    _refused(proc, tmp_path, ["cameras found for only"])


def test_exif_focal_length_is_colmaps_prior(tmp_path):
    from blender_img2mesh.pipeline.multiview import driver
    from blender_img2mesh.pipeline.source import image_io

    plain, tagged = str(tmp_path / "plain.jpg"), str(tmp_path / "tagged.jpg")
    Image.new("RGB", (64, 48)).save(plain)
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 28  # FocalLengthIn35mmFilm
    Image.new("RGB", (64, 48)).save(tagged, exif=exif)
    assert image_io.focal_35mm(plain) is None
    assert image_io.focal_35mm(tagged) == 28.0
    # 28 mm across 36 mm of film = 28/36 of the longer side, at the working size
    assert driver.focal_prior([plain, tagged], (640, 480)) == pytest.approx(28 / 36 * 640)
    assert driver.focal_prior([plain], (640, 480)) is None


def test_a_few_matching_photos_of_many_are_refused():
    from blender_img2mesh.pipeline.errors import Img2MeshError
    from blender_img2mesh.pipeline.multiview import driver

    names = [f"v{i:02d}.png" for i in range(16)]
    few = {n: object() for n in names[:5]}
    with pytest.raises(Img2MeshError, match="5 of 16 photos; the others do not match"):
        driver.check_registered(few, names, "colmap", ["v00.png"])
    most = {n: object() for n in names[:14]}
    assert driver.check_registered(most, names, "colmap", ["v00.png"]) == names[14:]
    # given cameras are the user's word: a few of many is still a job
    assert driver.check_registered(few, names, "given", ["v00.png"]) == names[5:]


def test_views_on_a_ray_cluster_give_the_local_result(cup, tmp_path, cli):
    """--ray: the masks and depth maps run on the actors of a two-node cluster (both
    nodes work), and the object is the local run's, byte for byte; COLMAP's features too
    (the views' features are the local ones, bit for bit, and register the cameras)."""
    import types

    import ray
    from ray.cluster_utils import Cluster

    from blender_img2mesh.pipeline.multiview import views_each

    folder, paths, _, _ = cup
    # the given cameras: COLMAP's multi-threaded mapping is not repeatable to the bit
    photos = [*paths[:12], "--cameras", str(folder / "cameras.json")]
    (tmp_path / "local").mkdir()
    (tmp_path / "remote").mkdir()
    local, remote = tmp_path / "local" / "cup.ply", tmp_path / "remote" / "cup.ply"
    proc = cli(["--views", *photos, "-o", str(local), "--target-faces", "3000"])
    assert proc.returncode == 0, proc.stderr
    c = Cluster()
    try:
        c.add_node(num_cpus=1)
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        proc = cli(["--views", *photos, "-o", str(remote), "--target-faces", "3000",
                    "--ray", c.address])
        rgba = [np.asarray(Image.open(p)) for p in paths]
        images, masks = [a[..., :3] for a in rgba], [a[..., 3] > 127 for a in rgba]
        names = [os.path.basename(p) for p in paths]
        ran = []
        options = types.SimpleNamespace(ray=c.address, device="cpu", ray_actors=None)
        with views_each.runner(options, {}) as runner:

            def each(name, items, done=None, shared=()):
                ran.append((shared, runner.each(name, items, done, shared)))
                return ran[-1][1]

            found, _, agree = colmap.recover(images, masks, names, Reporter(), each=each)
            on_ray = dict(runner.info)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()
    assert proc.returncode == 0, proc.stderr
    a, b = (json.loads(p.with_suffix(".json").read_text()) for p in (local, remote))
    assert a["per_view"] == {"runner": "here", "stages": ["mask", "depth"]}
    assert b["per_view"] == {"runner": "ray", "actors": 2, "nodes": 2,
                             "stages": ["mask", "depth"]}
    assert on_ray == {"runner": "ray", "actors": 2, "nodes": 2, "stages": ["features"]}
    assert len(found) >= 0.95 * VIEWS and agree >= colmap.AGREE
    shared, remote_features = ran[0]
    for k in (0, 7):
        here = colmap.features_of(*shared, images[k], masks[k])
        np.testing.assert_array_equal(remote_features[k][0], here[0])
        np.testing.assert_array_equal(remote_features[k][1], here[1])
    written = {os.path.basename(f) for f in a["outputs"]} - {"cup.json"}
    assert {"cup.ply", "cup_texture.png"} <= written
    for name in written:
        assert (tmp_path / "remote" / name).read_bytes() == \
            (tmp_path / "local" / name).read_bytes()
    assert (a["vertices"], a["faces"], a["registered"]) == \
        (b["vertices"], b["faces"], b["registered"])


def test_wrong_cameras_disagree_with_the_silhouettes(cup):
    """hull.agreement, which picks among COLMAP's attempts: the true cameras agree with
    the masks; three of them moved sideways by 0.3 units (their
    silhouette cones cut the object where the other views see it) fall below the bar."""
    from blender_img2mesh.pipeline.multiview import hull

    folder, paths, truth, _ = cup
    names = [os.path.basename(p) for p in paths]
    masks = [np.asarray(Image.open(p))[..., 3] > 127 for p in paths]
    size = masks[0].shape[::-1]
    cams = [mvcams.Camera(truth[n]["K"], truth[n]["R"], truth[n]["t"], size) for n in names]
    assert hull.agreement(cams, masks) >= colmap.AGREE
    bad = list(cams)
    for k in (2, 9, 15):
        bad[k] = mvcams.Camera(cams[k].K, cams[k].R, cams[k].t + [0.3, 0.0, 0.0], size)
    assert hull.agreement(bad, masks) < colmap.AGREE
