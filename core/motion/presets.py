"""Body pose presets for SMPL-X / SMPL-H rigs (bpy-free): T-pose, A-pose, rest, flat and relaxed hands.

Presets are computed from the rig's own rest joints, so they hold for any rest (the real SMPL-X
template is a T-pose, the stand-in an A-pose with bent elbows). Output: model-space joint rotations
(SMPL convention: each relative to its parent, about the joint), by joint name. Model space is the
models' Y-up, left = +x, facing +z.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..rig.lbs import axis_angle_to_matrix
from ..rig.model import SMPLH_JOINT_NAMES

BODY_PRESETS = ("T", "A", "REST", "KEEP")
HAND_PRESETS = ("FLAT", "RELAXED", "KEEP")
A_POSE_DEGREES = 45.0  # arms this far below horizontal
# Relaxed hands: bend of the three joints of each finger (towards the palm), degrees.
RELAXED_FINGER_DEGREES = (18.0, 28.0, 14.0)
RELAXED_THUMB_DEGREES = (6.0, 12.0, 10.0)

_BODY_JOINTS = SMPLH_JOINT_NAMES[1:22]
_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
_SIDE_X = {"left": 1.0, "right": -1.0}  # model x of each side


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else v


def _frame(direction: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Orthonormal frame (columns) from a bone direction and a palm normal (made perpendicular)."""
    d = _unit(direction)
    n = normal - (normal @ d) * d
    if np.linalg.norm(n) < 1e-9:  # normal along the bone: any perpendicular will do
        helper = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        n = helper - (helper @ d) * d
    n = _unit(n)
    return np.stack([d, n, np.cross(d, n)], axis=1)


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    return axis_angle_to_matrix(_unit(axis) * np.deg2rad(degrees))


def palm_normal(joints: dict[str, np.ndarray], side: str) -> np.ndarray:
    """Unit normal out of the palm of the rest hand, from the wrist, index and pinky bases."""
    wrist = joints.get(f"{side}_wrist")
    index = joints.get(f"{side}_index1")
    pinky = joints.get(f"{side}_pinky1")
    if wrist is None or index is None or pinky is None:
        return np.array([0.0, -1.0, 0.0])
    # For a left hand along +x with its back up, (index - wrist) x (pinky - wrist) points up (+y).
    sign = -1.0 if side == "left" else 1.0
    return _unit(sign * np.cross(index - wrist, pinky - wrist))


def _arm_targets(kind: str, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Arm direction and palm normal of the preset (palms down in T, turned with the arm in A)."""
    x = _SIDE_X[side]
    if kind == "T":
        return np.array([x, 0.0, 0.0]), np.array([0.0, -1.0, 0.0])
    angle = np.deg2rad(A_POSE_DEGREES)
    direction = np.array([x * np.cos(angle), -np.sin(angle), 0.0])
    normal = np.array([-x * np.sin(angle), -np.cos(angle), 0.0])
    return direction, normal


def _arm_rotations(kind: str, joints: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Local rotations of shoulder, elbow and wrist that lay the straightened arm along the target."""
    out: dict[str, np.ndarray] = {}
    for side in ("left", "right"):
        chain = [f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"]
        if not all(name in joints for name in chain):
            continue
        ends = [joints[chain[1]], joints[chain[2]], joints.get(f"{side}_middle1")]
        if ends[2] is None:
            ends[2] = joints[chain[2]] + (joints[chain[2]] - joints[chain[1]])
        normal = palm_normal(joints, side)
        target = _frame(*_arm_targets(kind, side))
        parent_world = np.eye(3)  # collars and spine are at rest in these presets
        for name, end in zip(chain, ends, strict=True):
            world = target @ _frame(end - joints[name], normal).T
            out[name] = parent_world.T @ world
            parent_world = world
    return out


def _relaxed_fingers(joints: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for side in ("left", "right"):
        normal = palm_normal(joints, side)
        for finger in _FINGERS:
            names = [f"{side}_{finger}{i}" for i in (1, 2, 3)]
            if not all(name in joints for name in names):
                continue
            angles = RELAXED_THUMB_DEGREES if finger == "thumb" else RELAXED_FINGER_DEGREES
            for i, name in enumerate(names):
                end = joints[names[i + 1]] if i < 2 else 2 * joints[names[2]] - joints[names[1]]
                direction = end - joints[name]
                # Turning the bone towards the palm normal curls the finger into the palm.
                out[name] = _rotation(np.cross(direction, normal), angles[i])
    return out


def preset_rotations(
    rest_joints: np.ndarray, joint_names: Sequence[str], body: str = "T", hands: str = "KEEP"
) -> dict[str, np.ndarray]:
    """Model-space local rotations (3,3) by joint name for the joints the preset sets.

    body: 'T' / 'A' (arms straight out, or 45 degrees down, palms down; the rest of the body at rest),
    'REST' (every body joint at rest), 'KEEP'. hands: 'FLAT' (fingers at rest), 'RELAXED', 'KEEP'.
    The root, jaw and eyes are never touched.
    """
    if body not in BODY_PRESETS:
        raise ValueError(f"Unknown body preset {body!r}; choose one of {', '.join(BODY_PRESETS)}.")
    if hands not in HAND_PRESETS:
        raise ValueError(f"Unknown hand preset {hands!r}; choose one of {', '.join(HAND_PRESETS)}.")
    joints = {name: np.asarray(rest_joints[j], dtype=np.float64) for j, name in enumerate(joint_names)}
    out: dict[str, np.ndarray] = {}
    if body != "KEEP":
        out.update({name: np.eye(3) for name in _BODY_JOINTS if name in joints})
    if body in ("T", "A"):
        out.update(_arm_rotations(body, joints))
    finger_names = [n for n in joints if any(n.startswith(f"{s}_{f}") for s in _SIDE_X for f in _FINGERS)]
    if hands == "FLAT":
        out.update({name: np.eye(3) for name in finger_names})
    elif hands == "RELAXED":
        out.update(_relaxed_fingers(joints))
    return out
