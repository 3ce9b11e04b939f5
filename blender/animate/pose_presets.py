"""Body pose presets on SMPL-X / SMPL-H rigs (T, A, rest; flat or relaxed hands), optionally keyed."""

from __future__ import annotations

import numpy as np

from ...core.motion import presets
from ..rig import bone_rotation, naming
from ..rig.parts import RigParts
from . import rig_pose
from .errors import AnimateError


def apply_preset(
    parts: RigParts, body: str, hands: str, keyframe: bool = False, frame: int | None = None
) -> list[str]:
    """Sets (and keys, when asked) the bones the preset covers; returns their names."""
    if parts.family not in ("SMPLX", "SMPLH"):
        label = naming.family_label(parts.family)
        raise AnimateError(
            f"'{parts.armature.name}' is a {label} rig; body presets are for SMPL-X / SMPL-H rigs."
        )
    names = parts.joint_names
    chosen = presets.preset_rotations(rig_pose.shaped_rest_joints(parts), names, body, hands)
    if not chosen:
        return []
    joints = list(chosen)
    quats = rig_pose.local_quaternions(parts, joints, np.stack([chosen[n] for n in joints])[None])[0]
    bones = parts.armature.pose.bones  # type: ignore[union-attr]
    bone_rotation.use_quaternions(parts.armature, joints)
    current = np.array([bones[n].rotation_quaternion for n in joints], dtype=np.float64)
    quats[np.sum(quats * current, axis=1) < 0] *= -1  # keys interpolate the short way from the current pose
    rig_pose.set_rotations(parts, joints, quats)
    if keyframe:
        for name in joints:
            bones[name].keyframe_insert("rotation_quaternion", frame=frame, group=name)
    return joints
