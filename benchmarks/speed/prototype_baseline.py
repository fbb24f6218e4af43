"""The original prototype (photo -> GLPN depth -> open3d point cloud -> Poisson -> .obj),
re-implemented step for step for ``benchmarks/speed/run.py``.  Not part of the package.

The prototype's steps, unchanged:

1. the photo resized to height <= 480 px, aspect kept; GLPNImageProcessor rounds the
   network input down to multiples of 32 (the colour image is brought to that same grid,
   as the prototype's own rounding did, so colour and depth line up);
2. GLPN forward; ``output = predicted_depth.squeeze().numpy() * 1000.0``;
3. 16 px of padding cropped off depth and image;
4. ``depth_image = (output * 255 / np.max(output)).astype('uint8')``;
5. ``RGBDImage.create_from_color_and_depth(color, depth, convert_rgb_to_intensity=False)``,
   ``PinholeCameraIntrinsic(width, height, 500, 500, width / 2, height / 2)``,
   ``PointCloud.create_from_rgbd_image``;
6. ``remove_statistical_outlier(nb_neighbors=20, std_ratio=6.0)``;
7. ``estimate_normals()``; ``orient_normals_to_align_with_direction()``;
8. ``create_from_point_cloud_poisson(depth=10, n_threads=1)``;
9. rotated 180 degrees about X; written as .obj.

``depth_override`` (metres, on the network's output grid) replaces the network's output
*after* the forward pass has run and *before* the x1000 / 8-bit step: the benchmark runs
the real forward (for its time) but feeds the geometry a plausible depth, because a
randomly initialised network outputs noise.
"""

import time

import numpy as np

PAD = 16
MAX_HEIGHT = 480


def load_model(model_dir):
    from transformers import GLPNForDepthEstimation, GLPNImageProcessor
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    processor = GLPNImageProcessor.from_pretrained(model_dir)
    model = GLPNForDepthEstimation.from_pretrained(model_dir)
    model.eval()
    return processor, model


def working_image(path, max_height=MAX_HEIGHT):
    """The prototype's resized photo (PIL, RGB), before the processor's rounding."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    new_height = min(image.height, max_height)
    new_width = int(round(image.width * new_height / image.height))
    return image.resize((new_width, new_height))


def network_grid(width, height, divisor=32):
    """(width, height) of GLPNImageProcessor's input for a (width, height) image."""
    return width // divisor * divisor, height // divisor * divisor


def geometry(output, image, poisson_depth=10, t=None):
    """The prototype's geometry on its depth (``predicted_depth * 1000``, cropped) and
    picture (HxWx3 uint8 of the same size): depth squeezed to 8 bits, fixed focal 500 px,
    statistical outlier removal (20, 6), default normals, Poisson on one thread.  Returns
    (raw point cloud, cleaned point cloud, mesh); stage times go into ``t``."""
    import open3d as o3d

    t = {} if t is None else t
    clock = time.perf_counter
    t0 = clock()
    height, width = output.shape
    depth_image = (output * 255 / np.max(output)).astype("uint8")
    rgbd_image = o3d.geometry.RGBDImage.create_from_color_and_depth(
        o3d.geometry.Image(np.ascontiguousarray(image)), o3d.geometry.Image(depth_image),
        convert_rgb_to_intensity=False)
    camera_intrinsic = o3d.camera.PinholeCameraIntrinsic()
    camera_intrinsic.set_intrinsics(width, height, 500, 500, width / 2, height / 2)
    pcd_raw = o3d.geometry.PointCloud.create_from_rgbd_image(rgbd_image, camera_intrinsic)
    t["points"] = clock() - t0

    t0 = clock()
    cl, ind = pcd_raw.remove_statistical_outlier(nb_neighbors=20, std_ratio=6.0)
    pcd = pcd_raw.select_by_index(ind)
    t["outliers"] = clock() - t0

    t0 = clock()
    pcd.estimate_normals()
    pcd.orient_normals_to_align_with_direction()
    t["normals"] = clock() - t0

    t0 = clock()
    mesh = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
        pcd, depth=poisson_depth, n_threads=1)[0]
    t["surface"] = clock() - t0
    return pcd_raw, pcd, mesh


def run_prototype(image_path, model_dir, out_obj, max_height=MAX_HEIGHT,
                  depth_override=None, poisson_depth=10):
    """Run the prototype once; returns (timings dict, info dict).  Timings per stage (s)
    plus ``forward`` (the network call alone, inside ``depth``)."""
    import open3d as o3d
    import torch

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    t = {}
    clock = time.perf_counter

    t0 = clock()
    image = working_image(image_path, max_height)
    t["load"] = clock() - t0

    t0 = clock()
    processor, model = load_model(model_dir)
    t["model"] = clock() - t0

    t0 = clock()
    inputs = processor(images=image, return_tensors="pt")
    grid_h, grid_w = inputs["pixel_values"].shape[-2:]
    if image.size != (grid_w, grid_h):
        image = image.resize((int(grid_w), int(grid_h)))
    tf = clock()
    with torch.no_grad():
        outputs = model(**inputs)
        predicted_depth = outputs.predicted_depth
    t["forward"] = clock() - tf
    net = predicted_depth.squeeze().cpu().numpy()
    if depth_override is not None:
        if depth_override.shape != net.shape:
            raise ValueError(f"depth override {depth_override.shape} != network output "
                             f"{net.shape}")
        net = depth_override
    output = net * 1000.0
    output = output[PAD:-PAD, PAD:-PAD]
    image = image.crop((PAD, PAD, image.width - PAD, image.height - PAD))
    t["depth"] = clock() - t0

    width, height = image.size
    pcd_raw, pcd, mesh = geometry(output, np.array(image), poisson_depth, t)

    t0 = clock()
    rotation = mesh.get_rotation_matrix_from_xyz((np.pi, 0, 0))
    mesh.rotate(rotation, center=(0, 0, 0))
    o3d.io.write_triangle_mesh(out_obj, mesh)
    t["export"] = clock() - t0

    info = {"working_size": [int(grid_w), int(grid_h)], "cropped_size": [width, height],
            "points_raw": len(pcd_raw.points), "points": len(pcd.points),
            "vertices": len(mesh.vertices), "faces": len(mesh.triangles),
            "torch_threads": torch.get_num_threads()}
    return t, info
