"""Pitch / yaw / roll degree controls on a rig's pose bones (core/rig/anatomy.py says which is which).

``PoseBone.gavatar_angles`` reads and writes the bone's real rotation, in whatever rotation mode
the bone has, so keys, drivers and constraints keep working on the bone itself. The control is not
animatable (keying it would animate nothing); with auto-keying on, setting it keys the bone's
rotation channel. When the rig's splat object carries the training range, values are held inside
the angles the avatar was trained on (while the rig's "Keep in Training Range" is on).
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np
from bpy.types import Object, PoseBone

from ...core.avatar.range_stats import RangeStats, RangeStatsError
from ...core.rig import anatomy
from ..rig import bone_rotation, training_range
from ..rig.parts import RigParts, find_rig

DEFAULT_LIMIT = 180.0


def _rest_frame(bone: PoseBone) -> np.ndarray:
    return np.array(bone.bone.matrix_local, dtype=np.float64)[:3, :3]


def angles(bone: PoseBone) -> np.ndarray:
    """(pitch, yaw, roll) in degrees of the bone's current rotation, in the model's axes."""
    frame = _rest_frame(bone)
    return anatomy.matrix_to_angles(frame @ bone_rotation.local_matrix(bone) @ frame.T)


def training_limits(parts: RigParts, bone_name: str, stats: RangeStats | None = None) -> np.ndarray | None:
    """(3, 2) degree limits per angle from the bound avatar's training range, or None when there is
    no bound avatar with range statistics (stats: already read, to spare reading them again)."""
    stats = stats or training_range.training_stats(parts)
    if stats is None or bone_name not in parts.joint_names:
        return None
    try:
        return anatomy.training_limits(stats, parts.joint_names.index(bone_name))
    except RangeStatsError:
        return None


def set_angles(bone: PoseBone, degrees: Any, frame: float | None = None) -> np.ndarray:
    """Sets the bone's rotation from (pitch, yaw, roll) degrees, held inside the training range when
    the rig asks for it; keys the bone's rotation channel at ``frame`` when given. Returns the
    angles set."""
    wanted = np.asarray([float(x) for x in degrees], dtype=np.float64)
    owner = bone.id_data
    parts = find_rig(owner) if isinstance(owner, Object) else None
    if parts is not None and training_range.keeps_range(parts):
        limits = training_limits(parts, bone.name)
        if limits is not None:
            wanted = np.clip(wanted, limits[:, 0], limits[:, 1])
    frame_rest = _rest_frame(bone)
    local = frame_rest.T @ anatomy.angles_to_matrix(wanted) @ frame_rest
    bone_rotation.set_local_matrix(bone, local)
    if frame is not None:
        bone_rotation.key_rotation(bone, frame)
    return wanted


def _get_property(bone: PoseBone) -> list[float]:
    return [float(x) for x in angles(bone)]


def _set_property(bone: PoseBone, value: Any) -> None:
    scene = bpy.context.scene
    auto_key = scene is not None and bool(scene.tool_settings.use_keyframe_insert_auto)
    set_angles(bone, value, float(scene.frame_current) if auto_key and scene is not None else None)


def angle_property() -> Any:
    """The ``PoseBone.gavatar_angles`` property: three degree sliders that edit the real rotation."""
    return bpy.props.FloatVectorProperty(
        name="Angles",
        description="Pitch (nod, + down), yaw (turn, + to its left), roll (tilt, + to its right), degrees",
        size=3,
        soft_min=-90.0,
        soft_max=90.0,
        min=-DEFAULT_LIMIT,
        max=DEFAULT_LIMIT,
        step=100,
        precision=1,
        get=_get_property,
        set=_set_property,
        options=set(),  # not animatable: the bone's own rotation channel is what gets keyed
    )
