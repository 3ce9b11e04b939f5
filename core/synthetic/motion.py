"""Scripted performances for the synthetic dataset (numpy only, no bpy).

Head: a tour of facial expressions (named ARKit-style activations when the model has names, as the
stand-ins do; seeded coefficient vectors otherwise) with jaw, neck and gaze motion. Body: a tour of
poses (A/T-pose, arm raises, strides, squat, twist, lean, wave, kick, bow, fists) built from target
limb directions, so it works whatever the model's rest pose (T or A).

Training timesteps interpolate between key poses; test timesteps are new combinations of them
(novel expressions / poses) that never appear in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..rig.lbs import axis_angle_to_matrix
from ..rig.model import RigModel
from ..rotations import matrix_to_axis_angle


@dataclass(frozen=True)
class HeadKey:
    """One facial key pose: expression activations by name, jaw opening (rad), head turn
    (neck yaw/pitch/roll, rad) and gaze (yaw, pitch, rad)."""

    expressions: Mapping[str, float] = field(default_factory=dict)
    jaw: float = 0.0
    neck: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gaze: tuple[float, float] = (0.0, 0.0)


def _sym(name: str, value: float) -> dict[str, float]:
    return {f"{name}Left": value, f"{name}Right": value}


HEAD_TRAIN_KEYS: tuple[HeadKey, ...] = (
    HeadKey(),
    HeadKey({**_sym("mouthSmile", 0.9), **_sym("cheekSquint", 0.4)}, 0.03, (0.25, 0.0, 0.0), (0.15, 0.0)),
    HeadKey({"jawOpen": 0.6}, 0.28, (0.0, -0.15, 0.0), (0.0, -0.1)),
    HeadKey({"browInnerUp": 0.9, **_sym("browOuterUp", 0.8), **_sym("eyeWide", 0.7)}, 0.06, (-0.2, 0.1, 0.0)),
    HeadKey({**_sym("browDown", 0.9), **_sym("mouthFrown", 0.8)}, 0.0, (0.0, 0.12, 0.08), (-0.2, 0.05)),
    HeadKey({"mouthPucker": 1.0}, 0.0, (0.35, 0.05, 0.0), (-0.25, 0.0)),
    HeadKey(_sym("eyeBlink", 1.0), 0.0, (-0.35, -0.05, 0.0)),
    HeadKey({"mouthFunnel": 0.9}, 0.12, (0.0, 0.2, -0.1), (0.0, 0.2)),
    HeadKey({"cheekPuff": 1.0}, 0.0, (0.15, -0.1, 0.1), (0.2, -0.15)),
    HeadKey({**_sym("noseSneer", 0.9), **_sym("mouthUpperUp", 0.7)}, 0.05, (-0.15, 0.15, 0.0)),
    HeadKey({"mouthLeft": 0.8, "jawLeft": 0.6}, 0.05, (0.5, 0.0, 0.0), (0.3, 0.0)),
    HeadKey({**_sym("eyeSquint", 0.8), **_sym("mouthSmile", 1.0)}, 0.16, (-0.5, -0.1, 0.0), (-0.3, 0.0)),
    HeadKey({**_sym("mouthStretch", 0.8), **_sym("mouthPress", 0.6)}, 0.04, (0.1, -0.25, 0.0), (0.0, -0.2)),
    HeadKey({"mouthSmileLeft": 0.9, "eyeBlinkLeft": 1.0}, 0.02, (0.0, 0.0, 0.2), (0.1, 0.1)),
    HeadKey({"mouthRollLower": 0.8, "mouthShrugUpper": 0.6}, 0.0, (0.0, 0.3, 0.0), (0.0, 0.25)),
    HeadKey({"jawOpen": 1.0, "browInnerUp": 0.5}, 0.4, (0.0, 0.0, 0.0)),
)

# Held-out: combinations never seen together in training.
HEAD_TEST_KEYS: tuple[HeadKey, ...] = (
    HeadKey(
        {**_sym("mouthSmile", 0.8), "browInnerUp": 0.8, "jawOpen": 0.3}, 0.15, (0.3, 0.1, 0.0), (-0.2, 0.1)
    ),
    HeadKey({**_sym("eyeBlink", 1.0), "mouthPucker": 0.9}, 0.0, (-0.25, -0.15, 0.1)),
    HeadKey({**_sym("browDown", 0.8), "jawOpen": 0.7}, 0.3, (0.15, 0.2, 0.0), (0.2, 0.0)),
    HeadKey({**_sym("eyeWide", 0.8), **_sym("mouthStretch", 0.6)}, 0.1, (0.0, -0.3, 0.0), (0.0, 0.25)),
    HeadKey({"mouthSmileRight": 1.0, "eyeBlinkRight": 1.0, "jawRight": 0.5}, 0.04, (-0.4, 0.05, -0.15)),
    HeadKey({"cheekPuff": 0.8, **_sym("browOuterUp", 0.9)}, 0.0, (0.45, -0.05, 0.0), (0.25, -0.1)),
    HeadKey({"mouthRollLower": 0.7, **_sym("eyeSquint", 0.9)}, 0.08, (-0.1, 0.25, 0.15)),
    HeadKey({**_sym("noseSneer", 0.7), **_sym("browDown", 0.7), "mouthFunnel": 0.5}, 0.1, (0.2, 0.0, -0.2)),
)


def _smooth(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def timeline(num_keys: int, count: int) -> list[tuple[int, int, float]]:
    """``count`` samples along a path through ``num_keys`` keys: (key a, key b, blend 0..1), the
    keys themselves included."""
    if count <= 1 or num_keys == 1:
        return [(0, 0, 0.0)] * max(count, 1)
    out = []
    positions = np.linspace(0.0, num_keys - 1, count)
    for pos in positions:
        a = min(int(np.floor(pos)), num_keys - 2)
        out.append((a, a + 1, _smooth(float(pos - a))))
    return out


def _expression_vector(model: RigModel, expressions: Mapping[str, float], seed: int) -> np.ndarray:
    names = list(model.expression_names)
    vec = np.zeros(model.num_expression)
    if names:
        for name, value in expressions.items():
            if name in names:
                vec[names.index(name)] = value
        return vec
    # No names (a real FLAME or a test model): a seeded vector per named expression instead.
    for name, value in expressions.items():
        rng = np.random.default_rng([seed, sum(map(ord, name))])
        n = min(model.num_expression, 10)
        vec[:n] += value * rng.normal(0.0, 1.0, n)
    return vec


def _head_params(model: RigModel, key: HeadKey, shape: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    yaw, pitch, roll = key.neck
    gaze_yaw, gaze_pitch = key.gaze
    eye = np.array([-gaze_pitch, gaze_yaw, 0.0])
    return {
        "shape": shape,
        "expr": _expression_vector(model, key.expressions, seed),
        "rotation": np.array([0.3 * -pitch, 0.3 * yaw, 0.0]),
        "neck_pose": np.array([-pitch, yaw, roll]) * 0.7,
        "jaw_pose": np.array([key.jaw, 0.0, 0.0]),
        "eyes_pose": np.concatenate([eye, eye]),
        "translation": np.zeros(3),
    }


def _blend(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], w: float) -> dict[str, np.ndarray]:
    return {k: (1.0 - w) * np.asarray(a[k]) + w * np.asarray(b[k]) for k in a}


def head_performance(
    model: RigModel, train_frames: int, test_frames: int, seed: int = 0
) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """(train, test) FLAME parameter dicts. The identity (``shape``) is zero: the stand-in's own
    face; appearance varies with the seed instead."""
    shape = np.zeros(model.num_shape)
    keys = [_head_params(model, k, shape, seed) for k in HEAD_TRAIN_KEYS]
    train = [_blend(keys[a], keys[b], w) for a, b, w in timeline(len(keys), train_frames)]
    test_keys = [_head_params(model, k, shape, seed) for k in HEAD_TEST_KEYS]
    test = [test_keys[i % len(test_keys)] for i in range(test_frames)]
    return train, test


# ----------------------------------------------------------------------------- body


@dataclass(frozen=True)
class BodyKey:
    """Limb directions in the body's frame (x left, y up, z forward), plus torso and hand motion."""

    left_arm: tuple[float, float, float] = (1.0, -1.0, 0.0)  # upper arm direction
    right_arm: tuple[float, float, float] = (-1.0, -1.0, 0.0)
    left_elbow: float = 0.0  # bend (rad), forearm toward the front
    right_elbow: float = 0.0
    left_leg: tuple[float, float, float] = (0.0, -1.0, 0.0)  # thigh direction
    right_leg: tuple[float, float, float] = (0.0, -1.0, 0.0)
    left_knee: float = 0.0  # bend (rad), shin toward the back
    right_knee: float = 0.0
    spine: tuple[float, float, float] = (0.0, 0.0, 0.0)  # pitch (forward), yaw, roll per spine joint
    head: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fist: float = 0.0  # 0 flat hands .. 1 fists
    yaw: float = 0.0  # whole-body turn (rad)
    drop: float = 0.0  # pelvis lowered (m)


BODY_TRAIN_KEYS: tuple[BodyKey, ...] = (
    BodyKey(),
    BodyKey(left_arm=(1, 0, 0), right_arm=(-1, 0, 0), yaw=0.4),
    BodyKey(left_arm=(0.3, 1, 0), right_arm=(-0.3, 1, 0), left_elbow=0.2, right_elbow=0.2, yaw=0.8),
    BodyKey(
        left_arm=(0.3, -1, -0.5),
        right_arm=(-0.3, -1, 0.6),
        right_elbow=0.6,
        left_leg=(0, -1, 0.5),
        right_leg=(0, -1, -0.3),
        right_knee=0.6,
        yaw=1.2,
    ),
    BodyKey(
        left_arm=(0.3, -1, 0.6),
        right_arm=(-0.3, -1, -0.5),
        left_elbow=0.6,
        left_leg=(0, -1, -0.3),
        right_leg=(0, -1, 0.5),
        left_knee=0.6,
        yaw=1.6,
    ),
    BodyKey(
        left_arm=(0.4, 0, 1),
        right_arm=(-0.4, 0, 1),
        left_leg=(0.2, -0.6, 1),
        right_leg=(-0.2, -0.6, 1),
        left_knee=1.6,
        right_knee=1.6,
        spine=(0.15, 0, 0),
        drop=0.3,
        yaw=2.0,
    ),
    BodyKey(
        left_arm=(1, -0.3, 0.3),
        right_arm=(-1, -0.3, 0.3),
        left_elbow=1.2,
        right_elbow=1.2,
        spine=(0.0, 0.3, 0.0),
        yaw=2.4,
    ),
    BodyKey(left_arm=(1, 0.6, 0), right_arm=(-0.5, -1, 0), spine=(0.0, 0.0, 0.15), head=(0, 0, 0.2), yaw=2.8),
    BodyKey(right_arm=(-0.6, 1, 0.2), right_elbow=1.0, head=(0, -0.3, 0), fist=0.0, yaw=3.2),
    BodyKey(left_arm=(0.2, 0, 1), right_arm=(-0.2, 0, 1), left_elbow=0.5, right_elbow=0.5, fist=1.0, yaw=3.6),
    BodyKey(left_leg=(0, -0.3, 1), left_arm=(1, -0.2, 0), right_arm=(-1, -0.2, 0), yaw=4.0),
    BodyKey(
        spine=(0.35, 0, 0), head=(0.2, 0, 0), left_arm=(0.4, -1, 0.4), right_arm=(-0.4, -1, 0.4), yaw=4.4
    ),
    BodyKey(left_arm=(1, 1, 0), right_arm=(-1, 1, 0), left_elbow=1.4, right_elbow=1.4, fist=0.6, yaw=5.0),
    BodyKey(yaw=6.0),
)

BODY_TEST_KEYS: tuple[BodyKey, ...] = (
    BodyKey(
        left_arm=(0.3, 1, 0),
        right_arm=(-0.3, 1, 0),
        left_leg=(0.2, -0.6, 1),
        right_leg=(-0.2, -0.6, 1),
        left_knee=1.4,
        right_knee=1.4,
        drop=0.25,
        yaw=0.6,
    ),
    BodyKey(
        left_arm=(0.3, -1, 0.6),
        right_arm=(-1, -0.3, 0.3),
        right_elbow=1.2,
        spine=(0, 0.3, 0),
        left_leg=(0, -1, -0.3),
        right_leg=(0, -1, 0.5),
        left_knee=0.6,
        yaw=2.2,
    ),
    BodyKey(right_leg=(0, -0.3, 1), left_arm=(0.6, 1, 0.2), left_elbow=1.0, yaw=3.4),
    BodyKey(spine=(0.0, 0.0, -0.15), left_arm=(0.2, 0, 1), right_arm=(-1, 0.6, 0), fist=1.0, yaw=4.8),
    BodyKey(spine=(0.3, 0.2, 0), left_arm=(1, 0, 0), right_arm=(-1, 0, 0), head=(0, 0.3, 0), yaw=5.6),
    BodyKey(left_arm=(1, 1, 0), right_arm=(-0.4, 0, 1), left_elbow=1.4, right_elbow=0.5, fist=0.5, yaw=1.0),
)

_J = {
    name: i
    for i, name in enumerate(
        (
            "pelvis",
            "left_hip",
            "right_hip",
            "spine1",
            "left_knee",
            "right_knee",
            "spine2",
            "left_ankle",
            "right_ankle",
            "spine3",
            "left_foot",
            "right_foot",
            "neck",
            "left_collar",
            "right_collar",
            "head",
            "left_shoulder",
            "right_shoulder",
            "left_elbow",
            "right_elbow",
            "left_wrist",
            "right_wrist",
        )
    )
}


def _unit(v: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / np.linalg.norm(a)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Axis-angle of the shortest rotation taking direction a to direction b."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-9:
        if c > 0:
            return np.zeros(3)
        other = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
        return _unit(np.cross(a, other)) * np.pi
    return axis / s * np.arctan2(s, c)


def _bend(parent_dir: np.ndarray, bend_toward: np.ndarray, angle: float) -> np.ndarray:
    """Axis-angle bending a limb segment pointing along ``parent_dir`` by ``angle`` toward
    ``bend_toward`` (made perpendicular to it)."""
    d = _unit(parent_dir)
    t = np.asarray(bend_toward, dtype=np.float64) - np.dot(bend_toward, d) * d
    if np.linalg.norm(t) < 1e-9 or angle == 0.0:
        return np.zeros(3)
    return _unit(np.cross(d, _unit(t))) * angle


def body_pose_from_key(model: RigModel, key: BodyKey, rest_joints: np.ndarray) -> dict[str, np.ndarray]:
    """SMPL-X parameters for a key pose, measured against the model's own rest joints."""
    pose = np.zeros((model.num_joints, 3))
    j = rest_joints
    # Spine (three joints share the bend) and head.
    spine_aa = np.array([key.spine[0], key.spine[1], key.spine[2]]) / 3.0
    for name in ("spine1", "spine2", "spine3"):
        pose[_J[name]] = spine_aa
    pose[_J["head"]] = np.array(key.head) * 0.6
    pose[_J["neck"]] = np.array(key.head) * 0.4
    for side, arm, elbow, leg, knee in (
        ("left", key.left_arm, key.left_elbow, key.left_leg, key.left_knee),
        ("right", key.right_arm, key.right_elbow, key.right_leg, key.right_knee),
    ):
        # The torso's rotation carries the arms: express targets in the rotated torso frame.
        upper_rest = j[_J[f"{side}_elbow"]] - j[_J[f"{side}_shoulder"]]
        pose[_J[f"{side}_shoulder"]] = rotation_between(upper_rest, np.array(arm, dtype=np.float64))
        shoulder_rot = axis_angle_to_matrix(pose[_J[f"{side}_shoulder"]])
        upper_now = shoulder_rot @ upper_rest
        forward = (
            np.array([0.0, 0.0, 1.0]) if np.abs(_unit(upper_now)[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
        )
        # Elbow bend in the shoulder's rotated frame (local rotations compose with the parent).
        pose[_J[f"{side}_elbow"]] = shoulder_rot.T @ _bend(upper_now, forward, elbow)
        thigh_rest = j[_J[f"{side}_knee"]] - j[_J[f"{side}_hip"]]
        pose[_J[f"{side}_hip"]] = rotation_between(thigh_rest, np.array(leg, dtype=np.float64))
        hip_rot = axis_angle_to_matrix(pose[_J[f"{side}_hip"]])
        thigh_now = hip_rot @ thigh_rest
        pose[_J[f"{side}_knee"]] = hip_rot.T @ _bend(thigh_now, np.array([0.0, 0.0, -1.0]), knee)
        # Keep the foot level-ish: undo the leg's pitch at the ankle.
        knee_world = hip_rot @ axis_angle_to_matrix(pose[_J[f"{side}_knee"]])
        pose[_J[f"{side}_ankle"]] = 0.5 * matrix_to_axis_angle(knee_world.T)
    hands = _hand_curl(model, rest_joints, key.fist)
    params = {
        "betas": np.zeros(model.num_shape),
        "global_orient": np.array([0.0, key.yaw, 0.0]),
        "transl": np.array([0.0, -key.drop, 0.0]),
        "body_pose": pose[1:22].reshape(-1),
        "jaw_pose": np.zeros(3),
        "leye_pose": np.zeros(3),
        "reye_pose": np.zeros(3),
        "left_hand_pose": hands[0],
        "right_hand_pose": hands[1],
        "expression": np.zeros(model.num_expression),
    }
    return params


def _hand_curl(model: RigModel, rest_joints: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray]:
    """Finger curls toward the palm (the side away from the back of the hand, estimated as the
    side the thumb's base sits on). 45 values per hand, flat hand at 0."""
    out = []
    for side, first in (("left", 25), ("right", 40)):
        curl = np.zeros((15, 3))
        if amount > 0 and model.num_joints >= 55:
            wrist = rest_joints[_J[f"{side}_wrist"]]
            index1, pinky1 = rest_joints[first], rest_joints[first + 6]
            across = pinky1 - index1
            finger_dir = _unit(rest_joints[first + 3] - wrist)  # middle finger base
            palm = np.cross(finger_dir, across) * (1.0 if side == "left" else -1.0)
            for finger in range(4):  # index, middle, pinky, ring
                for k in range(3):
                    joint = first + 3 * finger + k
                    nxt = rest_joints[joint + 1] if k < 2 else rest_joints[joint] + finger_dir * 0.02
                    curl[3 * finger + k] = _bend(nxt - rest_joints[joint], palm, amount * (0.9 if k else 0.7))
            thumb = first + 12
            curl[12:15] = _bend(rest_joints[thumb + 1] - rest_joints[thumb], palm, amount * 0.4)
        out.append(curl.reshape(-1))
    return out[0], out[1]


def body_performance(
    model: RigModel, train_frames: int, test_frames: int, seed: int = 0
) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """(train, test) SMPL-X parameter dicts for the scripted body performance."""
    del seed  # the script is fixed; the seed varies appearance
    rest = model.joint_regressor @ model.v_template
    keys = [body_pose_from_key(model, k, rest) for k in BODY_TRAIN_KEYS]
    train = [_blend(keys[a], keys[b], w) for a, b, w in timeline(len(keys), train_frames)]
    test_keys = [body_pose_from_key(model, k, rest) for k in BODY_TEST_KEYS]
    test = [test_keys[i % len(test_keys)] for i in range(test_frames)]
    return train, test
