"""A PNG picture of the mesh, drawn with matplotlib (Agg: no display needed).

Two views, front and three-quarter, of the Blender-frame mesh (Z up, front facing -Y):
triangles are projected orthographically, shaded (vertex color x a soft key light) and
painted back to front.
"""

import numpy as np

MAX_PREVIEW_FACES = 16_000


def _rotation(yaw_deg, pitch_deg):
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    rz = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rx @ rz


def _draw(ax, vertices, triangles, colors, yaw, pitch, title):
    from matplotlib.collections import PolyCollection

    v = vertices @ _rotation(yaw, pitch).T  # viewer looks along +Y, screen = (X, Z)
    tri = v[triangles]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    light = np.array([-0.4, -0.8, 0.45])
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.abs(normal @ light)
    face_rgb = colors[triangles].mean(axis=1) / 255.0 * shade[:, None]
    order = np.argsort(-tri[:, :, 1].mean(axis=1))  # far (large Y) first
    polys = tri[order][:, :, [0, 2]]
    ax.add_collection(PolyCollection(polys, facecolors=np.clip(face_rgb[order], 0, 1),
                                     edgecolors="none", antialiased=False))
    lo, hi = v[:, [0, 2]].min(axis=0), v[:, [0, 2]].max(axis=0)
    pad = 0.05 * (hi - lo).max()
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _simplify(vertices, triangles, colors, target=MAX_PREVIEW_FACES):
    """About ``target`` faces by vertex clustering (open3d): a picture needs no more, and
    clustering is ~30x faster than quadric decimation on a 150k-face mesh.  The cell size
    comes from the area (a cell of side s holds ~2 triangles per s^2 of surface)."""
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices),
                                     o3d.utility.Vector3iVector(triangles.astype(np.int32)))
    mesh.vertex_colors = o3d.utility.Vector3dVector(np.asarray(colors, np.float64) / 255.0)
    cell = np.sqrt(2.0 * mesh.get_surface_area() / target)
    for _ in range(4):
        small = mesh.simplify_vertex_clustering(
            cell, o3d.geometry.SimplificationContraction.Average)
        if len(small.triangles) <= 1.25 * target:
            break
        cell *= np.sqrt(len(small.triangles) / target)
    return (np.asarray(small.vertices), np.asarray(small.triangles),
            np.asarray(small.vertex_colors) * 255.0)


def render_preview(path, vertices, triangles, colors, title=""):
    """Write a PNG of the (Blender-frame) mesh to ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    if len(triangles) > MAX_PREVIEW_FACES:
        vertices, triangles, colors = _simplify(vertices, triangles, colors)
    fig = Figure(figsize=(8, 4.2), dpi=100)
    fig.patch.set_facecolor("#3a3a3a")
    for i, (yaw, pitch, name) in enumerate([(0, 0, "front"), (-40, 15, "three-quarter")]):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.set_facecolor("#3a3a3a")
        _draw(ax, vertices, triangles, colors, yaw, pitch, name)
        ax.title.set_color("white")
    if title:
        fig.suptitle(title, color="white", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, facecolor=fig.get_facecolor())

