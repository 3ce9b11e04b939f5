"""Depth of field and motion blur of a GAVATAR render: which aperture points and shutter times
one final render averages (core/lens.py), from the camera's DOF settings and the scene's motion
blur, with the engine's sample count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from bpy.types import Depsgraph, Scene

from ..core import lens


@dataclass
class BlurPlan:
    offsets: np.ndarray  # (N, 2) aperture points in camera axes (zeros without DOF)
    times: np.ndarray  # (N,) frame offsets (zeros without motion blur)
    focus_distance: float

    @property
    def count(self) -> int:
        return len(self.times)


def focus_distance(scene: Scene, depsgraph: Depsgraph) -> float:
    """The camera's focus distance: to its focus object along the view axis, else its distance."""
    camera = scene.camera
    assert camera is not None
    camera_eval = camera.evaluated_get(depsgraph)
    dof = camera_eval.data.dof  # type: ignore[union-attr]
    if dof.focus_object is not None:
        target = np.array(dof.focus_object.evaluated_get(depsgraph).matrix_world.translation)
        matrix = np.array(camera_eval.matrix_world.normalized())
        forward = -matrix[:3, 2]  # a Blender camera looks down its -Z
        return max(float(np.dot(target - matrix[:3, 3], forward)), 1e-4)
    return max(float(dof.focus_distance), 1e-4)


def plan(scene: Scene, depsgraph: Depsgraph, samples: int) -> BlurPlan | None:
    """None when the render needs one pinhole image (no DOF, no motion blur)."""
    camera = scene.camera
    if camera is None:
        return None
    data = camera.evaluated_get(depsgraph).data
    use_dof = bool(data.dof.use_dof) and data.type == "PERSP"  # type: ignore[union-attr]
    use_blur = bool(scene.render.use_motion_blur) and scene.render.motion_blur_shutter > 0.0
    if not (use_dof or use_blur) or samples <= 1:
        return None
    count = int(samples)
    offsets = np.zeros((count, 2))
    distance = 1.0
    if use_dof:
        dof = data.dof  # type: ignore[union-attr]
        radius = lens.aperture_radius(float(data.lens), float(dof.aperture_fstop))  # type: ignore[union-attr]
        offsets = lens.aperture_points(count, radius, int(dof.aperture_blades), float(dof.aperture_rotation))
        distance = focus_distance(scene, depsgraph)
    times = np.zeros(count)
    if use_blur:
        shutter = lens.shutter_times(
            count, float(scene.render.motion_blur_shutter), scene.render.motion_blur_position
        )
        times = shutter[lens.order_times(count)]
    return BlurPlan(offsets, times, distance)


def frame_and_subframe(frame: int, subframe: float, offset: float) -> tuple[int, float]:
    """The (frame, subframe in [0, 1)) of frame + subframe + offset."""
    time = frame + subframe + offset
    whole = int(np.floor(time))
    return whole, float(time - whole)
