"""Blender's cameras as ``ViewCamera``: the scene camera of a render (resolution, percentage,
pixel aspect, sensor fit, shift, orthographic; Blender computes the projection) and the 3D
viewport's view."""

from __future__ import annotations

import bpy
import numpy as np
from bpy.types import Depsgraph, Scene

from ..core.cameras import ViewCamera, from_gl_matrices


def render_size(scene: Scene) -> tuple[int, int]:
    r = scene.render
    scale = r.resolution_percentage / 100.0
    return max(1, int(r.resolution_x * scale)), max(1, int(r.resolution_y * scale))


def scene_camera(depsgraph: Depsgraph, scene: Scene) -> ViewCamera:
    """The full-frame camera of a render of scene (its active camera object)."""
    width, height = render_size(scene)
    camera = scene.camera
    if camera is None:
        raise RuntimeError("the scene has no active camera")
    camera_eval = camera.evaluated_get(depsgraph)
    r = scene.render
    window = camera_eval.calc_matrix_camera(
        depsgraph, x=width, y=height, scale_x=r.pixel_aspect_x, scale_y=r.pixel_aspect_y
    )
    view = np.array(camera_eval.matrix_world.normalized().inverted(), dtype=np.float64)
    return from_gl_matrices(view, np.array(window, dtype=np.float64), width, height)


def border_rect(scene: Scene, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The render border as (left, bottom, width, height) in pixels, or None for the full frame.
    Rounded as Blender rounds its render region."""
    r = scene.render
    if not r.use_border:
        return None
    x0 = int(r.border_min_x * width)
    x1 = int(r.border_max_x * width)
    y0 = int(r.border_min_y * height)
    y1 = int(r.border_max_y * height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def viewport_camera(context: bpy.types.Context) -> ViewCamera:
    region = context.region
    region_3d = context.region_data
    assert region is not None and region_3d is not None
    return from_gl_matrices(
        np.array(region_3d.view_matrix, dtype=np.float64),
        np.array(region_3d.window_matrix, dtype=np.float64),
        region.width,
        region.height,
    )
