"""A pose bone's rotation whatever its rotation mode, and switching modes without orphaning keys.

Blender keeps one property per rotation mode (``rotation_quaternion``, ``rotation_euler``,
``rotation_axis_angle``) and evaluates only the current mode's; switching the mode leaves the keys
of the old one in the action, silently ignored. ``switch_mode`` rewrites those keys in the new mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bpy.types import Object, PoseBone
from mathutils import Euler, Matrix, Quaternion

from . import animation

QUATERNION = "QUATERNION"
AXIS_ANGLE = "AXIS_ANGLE"
_SIZES = {QUATERNION: 4, AXIS_ANGLE: 4}


def rotation_path(mode: str) -> str:
    """The pose-bone property that holds a rotation in this mode."""
    return {QUATERNION: "rotation_quaternion", AXIS_ANGLE: "rotation_axis_angle"}.get(mode, "rotation_euler")


def _size(mode: str) -> int:
    return _SIZES.get(mode, 3)


def values_to_matrix(mode: str, values: Any) -> np.ndarray:
    """3x3 rotation of a rotation property's values in the given mode."""
    v = [float(x) for x in values]
    if mode == QUATERNION:
        matrix = Quaternion(v).normalized().to_matrix()
    elif mode == AXIS_ANGLE:
        axis = np.array(v[1:4])
        length = float(np.linalg.norm(axis))
        matrix = Matrix.Identity(3) if length < 1e-12 else Matrix.Rotation(v[0], 3, tuple(axis / length))
    else:
        matrix = Euler(v, mode).to_matrix()
    return np.array(matrix, dtype=np.float64)


def matrix_to_values(mode: str, matrix: np.ndarray, previous: Any = None) -> list[float]:
    """A rotation's values in the given mode; with ``previous`` (values in the same mode), the ones
    nearest to it: the quaternion on the same side, Euler angles without a 360-degree jump."""
    m = Matrix([[float(x) for x in row] for row in np.asarray(matrix)])
    if mode == QUATERNION:
        q = m.to_quaternion()
        if previous is not None and Quaternion([float(x) for x in previous]).dot(q) < 0:
            q.negate()
        return [q.w, q.x, q.y, q.z]
    if mode == AXIS_ANGLE:
        axis, angle = m.to_quaternion().to_axis_angle()
        return [float(angle), axis.x, axis.y, axis.z]
    compat = Euler([float(x) for x in previous], mode) if previous is not None else None
    euler = m.to_euler(mode, compat) if compat is not None else m.to_euler(mode)
    return [euler.x, euler.y, euler.z]


def local_matrix(bone: PoseBone) -> np.ndarray:
    """The bone's local rotation (in its rest frame), 3x3, read in its current mode."""
    mode = str(bone.rotation_mode)
    return values_to_matrix(mode, getattr(bone, rotation_path(mode)))


def set_local_matrix(bone: PoseBone, matrix: np.ndarray) -> None:
    """Sets the bone's local rotation in its current mode, nearest to the values it has now."""
    mode = str(bone.rotation_mode)
    path = rotation_path(mode)
    setattr(bone, path, matrix_to_values(mode, matrix, getattr(bone, path)))


def key_rotation(bone: PoseBone, frame: float) -> bool:
    """Keys the channel the bone's current mode evaluates."""
    return bool(bone.keyframe_insert(rotation_path(str(bone.rotation_mode)), frame=frame, group=bone.name))


def _fcurves(armature: Object, path: str) -> list[Any]:
    found = [f for f in animation.action_fcurves(armature) if f.data_path == path]
    return sorted(found, key=lambda f: f.array_index)


def _remove_fcurves(armature: Object, fcurves: list[Any]) -> None:
    anim: Any = armature.animation_data
    action: Any = anim.action
    for fcurve in fcurves:
        if getattr(action, "is_action_legacy", False) or not hasattr(action, "layers"):
            action.fcurves.remove(fcurve)
            continue
        for layer in action.layers:
            for strip in layer.strips:
                bag = strip.channelbag(anim.action_slot)
                if bag is not None and fcurve in list(bag.fcurves):
                    bag.fcurves.remove(fcurve)


def switch_mode(armature: Object, bone_name: str, mode: str) -> int:
    """Sets the bone's rotation mode; keys of the old mode are rewritten in the new one (same frames,
    same interpolation, same pose on every key) and the old F-curves removed. Returns the keys moved."""
    bone = armature.pose.bones[bone_name]  # type: ignore[union-attr]
    old = str(bone.rotation_mode)
    if old == mode:
        return 0
    now = local_matrix(bone)
    old_curves = _fcurves(armature, f'pose.bones["{bone_name}"].{rotation_path(old)}')
    moved = 0
    if old_curves:
        frames = sorted({round(float(k.co[0]), 4) for f in old_curves for k in f.keyframe_points})
        interpolation = {
            round(float(k.co[0]), 4): k.interpolation for f in old_curves for k in f.keyframe_points
        }
        rest = list(getattr(bone, rotation_path(old)))  # a channel without an F-curve keeps its value
        values: list[list[float]] = []
        previous = None
        for frame in frames:
            old_values = list(rest)
            for f in old_curves:
                old_values[f.array_index] = f.evaluate(frame)
            previous = matrix_to_values(mode, values_to_matrix(old, old_values), previous)
            values.append(previous)
        _remove_fcurves(armature, old_curves)
        action = animation.ensure_action(armature, f"{armature.name} Action")
        path = f'pose.bones["{bone_name}"].{rotation_path(mode)}'
        table = np.array(values)
        for c in range(_size(mode)):
            fcurve = animation.ensure_fcurve(armature, action, path, c, bone_name)
            fcurve.keyframe_points.clear()
            for frame, value in zip(frames, table[:, c], strict=True):
                point = fcurve.keyframe_points.insert(frame, float(value), options={"FAST"})
                point.interpolation = interpolation[frame]
            fcurve.update()
        moved = len(frames)
    bone.rotation_mode = mode
    set_local_matrix(bone, now)
    return moved


def use_quaternions(armature: Object, names: list[str] | tuple[str, ...]) -> None:
    """Puts the named bones in quaternion mode (what the importers key), converting their keys."""
    for name in names:
        switch_mode(armature, name, QUATERNION)
