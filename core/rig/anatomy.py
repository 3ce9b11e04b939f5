"""Joint rotations in an animator's terms: pitch, yaw and roll in degrees (bpy-free, torch-free).

The models (FLAME, SMPL-X) share one model space: +y up, +z forward (out of the face), +x the
subject's left. A joint's rotation R (relative to its parent, model axes) is split as
``R = Ry(yaw) Rx(pitch) Rz(roll)``:
- yaw: a turn about the up axis, + turns the face towards the subject's left;
- pitch: a nod about the left-right axis, + tips the face down (chin to chest, jaw open);
- roll: a tilt about the forward axis, + tips the top of the head towards the subject's right.
Each angle alone is a rotation about one model axis, so a neck turn never brings a tilt with it.
"""

from __future__ import annotations

import numpy as np

from .. import rotations
from ..avatar import range_stats
from ..avatar.range_stats import RangeStats
from .lbs import axis_angle_to_matrix

ANGLE_NAMES: tuple[str, str, str] = ("pitch", "yaw", "roll")
# The model axis each angle turns about, in ANGLE_NAMES order (x: left, y: up, z: forward).
ANGLE_AXES: tuple[int, int, int] = (0, 1, 2)


def _axis_rotation(axis: int, radians: float) -> np.ndarray:
    vector = np.zeros(3)
    vector[axis] = radians
    return axis_angle_to_matrix(vector)


def angles_to_matrix(degrees: np.ndarray) -> np.ndarray:
    """(pitch, yaw, roll) in degrees -> the model rotation Ry(yaw) Rx(pitch) Rz(roll), 3x3."""
    pitch, yaw, roll = np.radians(np.asarray(degrees, dtype=np.float64))
    return _axis_rotation(1, yaw) @ _axis_rotation(0, pitch) @ _axis_rotation(2, roll)


def matrix_to_angles(matrix: np.ndarray) -> np.ndarray:
    """The (pitch, yaw, roll) in degrees of a model rotation (inverse of angles_to_matrix; at a
    pitch of +-90 degrees yaw and roll share one axis and roll takes 0)."""
    r = np.asarray(matrix, dtype=np.float64)
    # Ry(a) Rx(b) Rz(c): r[1,2] = -sin b, r[0,2] = sin a cos b, r[2,2] = cos a cos b,
    # r[1,0] = cos b sin c, r[1,1] = cos b cos c.
    pitch = np.arcsin(np.clip(-r[1, 2], -1.0, 1.0))
    if np.cos(pitch) > 1e-6:
        yaw = np.arctan2(r[0, 2], r[2, 2])
        roll = np.arctan2(r[1, 0], r[1, 1])
    else:  # gimbal: only yaw - roll (or yaw + roll) is defined; give it all to yaw
        yaw = np.arctan2(-r[2, 0], r[0, 0])
        roll = 0.0
    return np.degrees(np.array([pitch, yaw, roll]))


def training_limits(stats: RangeStats, joint: int) -> np.ndarray:
    """(3, 2) [low, high] degrees per angle (ANGLE_NAMES order) that joint ``joint`` turned through
    in training: the range of its axis-angle component about each angle's axis (exact for a turn
    about one axis), stretched to include 0 like the range guard's bounds."""
    pose = np.asarray(stats.pose)
    columns = [3 * joint + axis for axis in ANGLE_AXES]
    if max(columns) >= pose.shape[1]:
        raise range_stats.RangeStatsError(
            f"the statistics cover {pose.shape[1] // 3} joints, not joint {joint}"
        )
    low, high = range_stats.bounds(pose[:, columns])
    return np.degrees(np.stack([low, high], axis=1))


def blend_rotations(current: np.ndarray, target: np.ndarray, weight: float) -> np.ndarray:
    """Rotation matrices (..., 3, 3) a fraction ``weight`` of the way from current to target along
    the shortest arc (0: current, 1: target)."""
    q0 = rotations.matrix_to_quaternion(np.asarray(current, dtype=np.float64))
    q1 = rotations.matrix_to_quaternion(np.asarray(target, dtype=np.float64))
    return rotations.quaternion_to_matrix(rotations.slerp(q0, q1, float(weight)))
