"""Dataset cameras as Blender cameras, exactly.

Placement: the dataset world is the model's Y-up space, which Blender shows at (x, -z, y) (the
rig's object transform does the same), and Blender cameras look down their -z with y up, so
``matrix_world = Y_UP_TO_BLENDER @ camera_to_world_cv @ diag(1, -1, -1, 1)``.

Intrinsics: horizontal sensor fit, ``lens = fx * sensor_width / W``; fy != fx through the scene's
pixel aspect (y/x = fx/fy); the principal point (pixel centres at integers, so cx + 0.5 in
Blender's corner-based frame) as lens shift in units of the image width:
``shift_x = (W/2 - cx - 0.5) / W``, ``shift_y = (fx/fy) * (cy + 0.5 - H/2) / W``.

Blender has one scene resolution, so each camera carries its own (``gavatar_width``,
``gavatar_height``, ``gavatar_pixel_aspect``) and ``sync_resolution`` applies the active camera's
whenever the frame or the active camera changes (see dataset_handlers.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bpy
import numpy as np
from mathutils import Matrix

from ...core.datasets.camera import GL_TO_CV_AXES, Camera

Y_UP_TO_BLENDER = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
SENSOR_WIDTH = 36.0  # mm; any value works, the focal length is derived from it

PROP_WIDTH = "gavatar_width"
PROP_HEIGHT = "gavatar_height"
PROP_ASPECT = "gavatar_pixel_aspect"  # (x, y) as Blender wants them, both >= 1
PROP_CAMERA_ID = "gavatar_camera_id"
PROP_K = "gavatar_K"


def blender_matrix_world(camera: Camera) -> Matrix:
    """The camera object's world matrix for a dataset camera."""
    c2w = Y_UP_TO_BLENDER @ camera.camera_to_world @ GL_TO_CV_AXES
    return Matrix(c2w.tolist())


def pixel_aspect(camera: Camera) -> tuple[float, float]:
    ratio = camera.fx / camera.fy  # Blender's y/x pixel aspect
    return (1.0, ratio) if ratio >= 1.0 else (1.0 / ratio, 1.0)


def lens_settings(camera: Camera) -> dict[str, float]:
    w, h = camera.width, camera.height
    ycor = camera.fx / camera.fy
    return {
        "lens": camera.fx * SENSOR_WIDTH / w,
        "shift_x": (w / 2.0 - camera.cx - 0.5) / w,
        "shift_y": ycor * (camera.cy + 0.5 - h / 2.0) / w,
    }


def apply_intrinsics(cam_obj: bpy.types.Object, camera: Camera) -> None:
    data = cam_obj.data
    assert isinstance(data, bpy.types.Camera)
    data.type = "PERSP"
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = SENSOR_WIDTH
    data.sensor_height = SENSOR_WIDTH * camera.height / camera.width
    for key, value in lens_settings(camera).items():
        setattr(data, key, value)
    for holder in (cam_obj, data):
        holder[PROP_WIDTH] = int(camera.width)
        holder[PROP_HEIGHT] = int(camera.height)
        holder[PROP_ASPECT] = list(pixel_aspect(camera))
    data[PROP_K] = [float(v) for v in camera.K.reshape(-1)]
    cam_obj[PROP_CAMERA_ID] = camera.camera_id


def create_camera(name: str, camera: Camera, collection: bpy.types.Collection) -> bpy.types.Object:
    data = bpy.data.cameras.new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    data.clip_start = 0.01
    data.clip_end = max(100.0, 4.0 * float(np.linalg.norm(camera.center)))
    data.display_size = 0.1
    apply_intrinsics(obj, camera)
    obj.matrix_world = blender_matrix_world(camera)
    return obj


def key_camera_poses(cam_obj: bpy.types.Object, poses: Iterable[tuple[int, Camera]]) -> None:
    """Keyframe a camera that moves over the sequence (one key per frame, constant between)."""
    cam_obj.rotation_mode = "QUATERNION"
    data = cam_obj.data
    previous_quat = None
    for frame, camera in poses:
        loc, rot, _scale = blender_matrix_world(camera).decompose()
        if previous_quat is not None:
            rot.make_compatible(previous_quat)  # no sign flips between keys
        previous_quat = rot
        cam_obj.location = loc
        cam_obj.rotation_quaternion = rot
        cam_obj.keyframe_insert("location", frame=frame)
        cam_obj.keyframe_insert("rotation_quaternion", frame=frame)
        assert isinstance(data, bpy.types.Camera)
        for key, value in lens_settings(camera).items():
            setattr(data, key, value)
            data.keyframe_insert(key, frame=frame)
    for owner in (cam_obj, data):
        anim = owner.animation_data
        if anim and anim.action:
            _constant_interpolation(anim.action)


def _constant_interpolation(action: Any) -> None:
    # Blender 4.4+ keeps F-curves in layered actions; older versions on the action itself.
    curves = list(getattr(action, "fcurves", []) or [])
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", []):
                curves.extend(bag.fcurves)
    for curve in curves:
        for point in curve.keyframe_points:
            point.interpolation = "CONSTANT"


def camera_resolution(cam_obj: bpy.types.Object) -> tuple[int, int, tuple[float, float]] | None:
    data = cam_obj.data
    for holder in (cam_obj, data):
        if holder is None:
            continue
        width, height = holder.get(PROP_WIDTH), holder.get(PROP_HEIGHT)
        if width is not None and height is not None:
            aspect = holder.get(PROP_ASPECT, (1.0, 1.0))
            return int(width), int(height), (float(aspect[0]), float(aspect[1]))
    return None


def sync_resolution(scene: bpy.types.Scene) -> bool:
    """Set the scene's resolution and pixel aspect from its active dataset camera. True if changed."""
    cam = scene.camera
    if cam is None:
        return False
    wanted = camera_resolution(cam)
    if wanted is None:
        return False
    width, height, (ax, ay) = wanted
    render = scene.render
    current = (render.resolution_x, render.resolution_y, render.pixel_aspect_x, render.pixel_aspect_y)
    if current == (width, height, ax, ay) and render.resolution_percentage == 100:
        return False
    render.resolution_x, render.resolution_y = width, height
    render.pixel_aspect_x, render.pixel_aspect_y = ax, ay
    render.resolution_percentage = 100
    return True


def activate_camera(scene: bpy.types.Scene, cam_obj: bpy.types.Object) -> None:
    scene.camera = cam_obj
    sync_resolution(scene)
