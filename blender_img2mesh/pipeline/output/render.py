"""Pictures of a textured or vertex-coloured mesh by ray casting (open3d's
RaycastingScene): through the photo's own camera (the photo-fidelity benchmark) or
orthographic views (the preview).  Every pixel looks its surface point up in the
texture at full resolution (bilinear), so a picture shows what the texture holds, not
the mesh's vertex density.
"""

import numpy as np
from scipy import ndimage

from ..geometry import open3d_import


def raycasting_scene(vertices, triangles):
    """open3d's ray-casting scene of one triangle mesh (cast many rays at it)."""
    o3d = open3d_import.load()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(vertices, np.float32)),
                        o3d.core.Tensor(np.ascontiguousarray(triangles, np.uint32)))
    return scene


def cast(vertices, triangles, origins, directions):
    """First hit of each ray: (triangle index, -1 for a miss; barycentric (u, v) of the
    hit: point = (1-u-v) a + u b + v c)."""
    o3d = open3d_import.load()
    scene = raycasting_scene(vertices, triangles)
    rays = np.concatenate([np.broadcast_to(origins, directions.shape), directions], axis=1)
    ans = scene.cast_rays(o3d.core.Tensor(np.ascontiguousarray(rays, np.float32)))
    hit = np.isfinite(ans["t_hit"].numpy())
    prim = np.where(hit, ans["primitive_ids"].numpy().astype(np.int64), -1)
    return prim, ans["primitive_uvs"].numpy().astype(np.float64)


def interpolate(values, triangles, prim, bary):
    """Per-vertex ``values`` (N, C) at the hits (misses: 0)."""
    hit = prim >= 0
    out = np.zeros((len(prim), values.shape[1]), np.float64)
    tri = triangles[prim[hit]]
    u, v = bary[hit, 0:1], bary[hit, 1:2]
    out[hit] = (1 - u - v) * values[tri[:, 0]] + u * values[tri[:, 1]] + v * values[tri[:, 2]]
    return out


def sample(image, uv):
    """Bilinear look-up of ``image`` (HxWx3 uint8) at UVs (origin bottom-left)."""
    H, W = image.shape[:2]
    x, y = uv[:, 0] * W - 0.5, (1.0 - uv[:, 1]) * H - 0.5
    return np.stack([ndimage.map_coordinates(image[..., c], [y, x], order=1, mode="nearest",
                                             output=np.float32) for c in range(3)], axis=1)


def colours(triangles, prim, bary, uv=None, image=None, colors=None):
    """sRGB 0..255 floats per ray: the texture when given, else the vertex colours."""
    hit = prim >= 0
    out = np.zeros((len(prim), 3), np.float64)
    if uv is not None and image is not None:
        out[hit] = sample(image, interpolate(np.asarray(uv, np.float64), triangles, prim,
                                             bary)[hit])
    elif colors is not None:
        out = interpolate(np.asarray(colors, np.float64), triangles, prim, bary)
    return out


#: rays pass this far (in pixels) from the pixel centres: a grid mesh's vertices lie
#: exactly on the rays through the working image's pixel centres, where a ray can slip
#: between the triangles that meet at the vertex (a false miss)
NUDGE = 1e-3


def camera_rays(f, width, height):
    """Directions through every pixel centre of a pinhole camera at the origin (camera
    frame: x right, y down, z forward; the principal point at the image centre)."""
    x = (np.arange(width) + 0.5 + NUDGE - 0.5 * width) / f
    y = (np.arange(height) + 0.5 + NUDGE - 0.5 * height) / f
    d = np.stack(np.broadcast_arrays(x[None, :], y[:, None], np.ones((1, 1))), axis=-1)
    return np.zeros(3), d.reshape(-1, 3)


def through_camera(vertices, triangles, f, width, height, uv=None, image=None,
                   colors=None):
    """The camera-frame mesh as the photo's camera sees it: (HxWx3 float 0..255, hit
    mask HxW)."""
    origin, dirs = camera_rays(f, width, height)
    prim, bary = cast(vertices, triangles, origin, dirs)
    rgb = colours(triangles, prim, bary, uv, image, colors)
    return rgb.reshape(height, width, 3), (prim >= 0).reshape(height, width)


def orthographic(vertices, triangles, rotation, height_px, uv=None, image=None,
                 colors=None, background=(58, 58, 58), light=(-0.4, -0.8, 0.45)):
    """An orthographic view of a Blender-frame mesh (Z up) turned by ``rotation``,
    looking along +Y, shaded by a soft key light: uint8 image."""
    v = np.asarray(vertices, np.float64) @ rotation.T
    lo, hi = v.min(axis=0), v.max(axis=0)
    pad = 0.05 * max(hi[0] - lo[0], hi[2] - lo[2], 1e-9)
    px = (hi[2] - lo[2] + 2 * pad) / height_px
    width_px = max(1, int(np.ceil((hi[0] - lo[0] + 2 * pad) / px)))
    xs = lo[0] - pad + (np.arange(width_px) + 0.5) * px
    zs = hi[2] + pad - (np.arange(height_px) + 0.5) * px
    gx, gz = np.meshgrid(xs, zs)
    origins = np.stack([gx.ravel(), np.full(gx.size, lo[1] - 1.0), gz.ravel()], axis=1)
    dirs = np.broadcast_to(np.array([0.0, 1.0, 0.0]), origins.shape)
    prim, bary = cast(v, triangles, origins, dirs)
    rgb = colours(triangles, prim, bary, uv, image, colors)
    tri = v[triangles]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    light = np.asarray(light, np.float64) / np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.abs(normal @ light)
    hit = prim >= 0
    out = np.empty((len(prim), 3))
    out[:] = background
    out[hit] = rgb[hit] * shade[prim[hit], None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8).reshape(height_px, width_px, 3)
