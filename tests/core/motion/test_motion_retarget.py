"""Retargeting maths (numpy): limb directions and twist survive any bone convention, roll, rest pose
(A-pose -> T-pose) and proportions; root motion keeps the hips' height in leg lengths."""

from __future__ import annotations

import numpy as np
import pytest

from core.motion import bone_maps, retarget
from core.rotations import axis_angle_to_matrix


def test_shortest_arc_maps_a_onto_b_including_opposites() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 3))
    b = rng.normal(size=(50, 3))
    b[0] = -a[0]
    rot = retarget.shortest_arc(a, b)
    a_n = a / np.linalg.norm(a, axis=1, keepdims=True)
    b_n = b / np.linalg.norm(b, axis=1, keepdims=True)
    assert np.allclose(np.einsum("nij,nj->ni", rot, a_n), b_n, atol=1e-9)
    assert np.allclose(rot @ np.swapaxes(rot, 1, 2), np.eye(3), atol=1e-9)


# A small body with canonical joint names (parents first): (joint, parent).
_BODY = [
    ("pelvis", None), ("spine1", "pelvis"), ("spine2", "spine1"), ("spine3", "spine2"),
    ("neck", "spine3"), ("head", "neck"),
    ("left_hip", "pelvis"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("left_foot", "left_ankle"), ("right_hip", "pelvis"), ("right_knee", "right_hip"),
    ("right_ankle", "right_knee"), ("right_foot", "right_ankle"),
    ("left_collar", "spine3"), ("left_shoulder", "left_collar"), ("left_elbow", "left_shoulder"),
    ("left_wrist", "left_elbow"), ("right_collar", "spine3"), ("right_shoulder", "right_collar"),
    ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"),
]  # fmt: skip
_JOINTS = [j for j, _ in _BODY]
_PARENTS = np.array([-1 if p is None else _JOINTS.index(p) for _, p in _BODY])


def _body_heads(arm_drop: float, legs: float, spread: float) -> np.ndarray:
    """Rest joints, Z up, facing -Y: arms dropped by arm_drop radians (0: T-pose), legs scaled."""
    heads = {"pelvis": np.array([0.0, 0.0, 1.0])}
    for j, z in (("spine1", 1.1), ("spine2", 1.22), ("spine3", 1.34), ("neck", 1.5), ("head", 1.6)):
        heads[j] = np.array([0.0, 0.01, z])
    arm = np.array([np.cos(arm_drop), 0.0, -np.sin(arm_drop)])
    for side, s in (("left", 1.0), ("right", -1.0)):
        side_arm = arm * [s, 1.0, 1.0]
        heads[f"{side}_collar"] = np.array([s * 0.04, 0.0, 1.42])
        heads[f"{side}_shoulder"] = np.array([s * 0.17, 0.0, 1.45])
        heads[f"{side}_elbow"] = heads[f"{side}_shoulder"] + 0.28 * side_arm
        heads[f"{side}_wrist"] = heads[f"{side}_elbow"] + 0.25 * side_arm
        heads[f"{side}_hip"] = np.array([s * spread, 0.0, 0.93])
        heads[f"{side}_knee"] = heads[f"{side}_hip"] + legs * np.array([s * 0.02, 0.0, -0.43])
        heads[f"{side}_ankle"] = heads[f"{side}_knee"] + legs * np.array([0.0, 0.02, -0.42])
        heads[f"{side}_foot"] = heads[f"{side}_ankle"] + np.array([0.0, -0.12, -0.06])
    return np.array([heads[j] for j in _JOINTS])


def _bone_rests(heads: np.ndarray, convention: str, rng: np.random.Generator) -> np.ndarray:
    """World rest rotations (N,3,3) of bones that point in one convention and carry a random roll."""
    up = np.array([0.0, 1.0, 0.0])
    if convention == "limbs":  # along each limb, leaves along their parent's
        aims = []
        for j, child in enumerate(retarget.limb_children(_JOINTS)):
            k = j if child >= 0 else _PARENTS[j]
            c = retarget.limb_children(_JOINTS)[k]
            aims.append(heads[c] - heads[k] if c >= 0 else np.array([0.0, 0.0, 1.0]))
        aims = np.array(aims)
    elif convention == "fixed_z":  # every bone points up, as some exporters write them
        aims = np.tile([0.0, 0.0, 1.0], (len(_JOINTS), 1))
    else:  # anything at all
        aims = rng.normal(size=(len(_JOINTS), 3))
    aim = retarget.shortest_arc(np.broadcast_to(up, aims.shape), aims)
    roll = axis_angle_to_matrix(up[None] * rng.uniform(-np.pi, np.pi, size=(len(_JOINTS), 1)))
    return aim @ roll


def _forward(rest: np.ndarray, heads: np.ndarray, local: np.ndarray, root: np.ndarray):  # type: ignore[no-untyped-def]
    """World rotations (F,N,3,3) and heads (F,N,3) of bones posed by local rotations, as Blender does."""
    frames = local.shape[0]
    world = np.empty_like(local)
    posed = np.empty((frames, len(_JOINTS), 3))
    for j, p in enumerate(_PARENTS):
        if p < 0:
            world[:, j] = rest[j] @ local[:, j]
            posed[:, j] = root
        else:
            carry = world[:, p] @ rest[p].T
            world[:, j] = carry @ rest[j] @ local[:, j]
            posed[:, j] = posed[:, p] + carry @ (heads[j] - heads[p])
    return world, posed


@pytest.mark.parametrize(
    ("source_convention", "target_convention"),
    [("limbs", "fixed_z"), ("fixed_z", "limbs"), ("random", "random"), ("limbs", "limbs")],
)
def test_limbs_and_twist_match_whatever_way_the_bones_point(
    source_convention: str, target_convention: str
) -> None:
    rng = np.random.default_rng(1)
    src_heads = _body_heads(0.6, 1.0, 0.09)  # A-pose
    dst_heads = _body_heads(0.0, 1.3, 0.12) * 0.8  # T-pose, longer legs, smaller overall
    src_rest = _bone_rests(src_heads, source_convention, rng)
    dst_rest = _bone_rests(dst_heads, target_convention, rng)
    local = axis_angle_to_matrix(rng.normal(scale=0.6, size=(10, len(_JOINTS), 3)))
    src_world, src_posed = _forward(src_rest, src_heads, local, src_heads[0])
    src_frames, owners = retarget.rest_limb_frames(_JOINTS, src_heads)
    dst_frames, _ = retarget.rest_limb_frames(_JOINTS, dst_heads)
    posed_frames = retarget.posed_limb_frames(src_frames, src_rest, src_world)
    wanted = retarget.retarget_world_rotations(posed_frames, dst_frames, dst_rest)
    dst_local = retarget.world_to_local_rotations(wanted, dst_rest, _PARENTS)
    dst_world, dst_posed = _forward(dst_rest, dst_heads, dst_local, dst_heads[0])
    # Limb directions match exactly, and so do the limb frames (the twist) as the target carries them.
    assert retarget.limb_angles(src_posed, dst_posed, _JOINTS).max() < 1e-4  # degrees; arccos near 1
    carried = dst_world @ np.swapaxes(dst_rest, -1, -2) @ dst_frames
    assert np.allclose(carried, posed_frames, atol=1e-9)
    # The same answer whichever way the source's bones point: only the joints matter.
    other_rest = _bone_rests(src_heads, "random", rng)
    # (a source whose bones point elsewhere, posed to the same joint positions and limb frames)
    other_world = src_world @ np.swapaxes(src_rest, -1, -2) @ other_rest
    again = retarget.retarget_world_rotations(
        retarget.posed_limb_frames(src_frames, other_rest, other_world), dst_frames, dst_rest
    )
    assert np.allclose(again, wanted, atol=1e-9)
    # Leaves (head, toes) share their parent limb's frame; the twist reference is perpendicular.
    assert owners[_JOINTS.index("head")] == _JOINTS.index("neck")
    assert owners[_JOINTS.index("left_foot")] == _JOINTS.index("left_ankle")


def test_measured_directions_override_the_carried_ones() -> None:
    rng = np.random.default_rng(2)
    heads = _body_heads(0.3, 1.0, 0.1)
    rest = _bone_rests(heads, "random", rng)
    frames, _ = retarget.rest_limb_frames(_JOINTS, heads)
    posed = axis_angle_to_matrix(rng.normal(size=(3, len(_JOINTS), 3)))
    measured = np.full((3, len(_JOINTS), 3), np.nan)
    measured[:, 1] = [0.0, 1.0, 0.0]  # spine1 stretched or moved: its limb is measured
    out = retarget.posed_limb_frames(frames, rest, posed, measured)
    carried = retarget.posed_limb_frames(frames, rest, posed)
    assert np.allclose(out[:, 1, :, 1], [0.0, 1.0, 0.0])
    assert np.allclose(out[:, 0], carried[:, 0]) and np.allclose(out[:, 2:], carried[:, 2:])
    assert np.allclose(out @ np.swapaxes(out, -1, -2), np.eye(3), atol=1e-12)


def test_body_axes_turn_with_the_body_and_missing_limbs_are_named() -> None:
    heads = _body_heads(0.0, 1.0, 0.1)
    axes = retarget.body_axes(dict(zip(_JOINTS, heads, strict=True)))
    assert np.allclose(axes, [[1, 0, 0], [0, -1, 0], [0, 0, 1]], atol=0.02)  # left +X, forward -Y, up +Z
    turn = axis_angle_to_matrix(np.array([0.0, 0.0, 0.7]))
    turned = retarget.body_axes(dict(zip(_JOINTS, heads @ turn.T, strict=True)))
    assert np.allclose(turned, turn @ axes, atol=1e-9)
    joints = [j for j in _JOINTS if j != "left_knee"]
    # This body has no fingers, so the hands' limbs (wrist to middle finger) are left out too.
    assert retarget.missing_limbs(joints) == ["left_hip", "left_wrist", "right_wrist"]
    assert retarget.missing_limbs(_JOINTS) == ["left_wrist", "right_wrist"]


def test_hips_keep_their_height_in_leg_lengths_about_the_floor() -> None:
    src = _body_heads(0.6, 1.0, 0.09)
    dst = _body_heads(0.0, 1.4, 0.12)
    src_leg = retarget.mean_leg_length(dict(zip(_JOINTS, src, strict=True)))
    dst_leg = retarget.mean_leg_length(dict(zip(_JOINTS, dst, strict=True)))
    assert src_leg is not None and dst_leg is not None
    # The source sits lower (0.5 m of hips over its floor at -0.3) while its rest root stands elsewhere.
    floor = -0.3
    roots = np.array([[0.2, 0.0, floor + 0.5], [0.4, 0.1, floor + 0.9]])
    src_anchor = retarget.floor_anchor(src[0], floor)
    dst_anchor = retarget.floor_anchor(dst[0], float(dst[:, 2].min()))
    out = retarget.scale_root_motion(roots, src_anchor, dst_anchor, dst_leg / src_leg)
    assert np.allclose((out[:, 2] - dst[:, 2].min()) / dst_leg, (roots[:, 2] - floor) / src_leg)
    assert np.allclose(out[1, :2] - out[0, :2], (roots[1, :2] - roots[0, :2]) * dst_leg / src_leg)


def test_unmapped_bones_follow_their_parent() -> None:
    parents = np.array([-1, 0])
    rest = np.broadcast_to(np.eye(3), (2, 3, 3)).copy()
    world = axis_angle_to_matrix(np.array([[[0.0, 0.0, 0.5], [1.0, 0.0, 0.0]]]))
    local = retarget.world_to_local_rotations(world, rest, parents, mapped=np.array([True, False]))
    assert np.allclose(local[0, 1], np.eye(3))
    assert np.allclose(local[0, 0], world[0, 0])


def test_presets_are_detected_from_bone_names() -> None:
    mixamo = set(bone_maps.PRESETS["MIXAMO"].values())
    assert bone_maps.detect_preset(mixamo) == "MIXAMO"
    assert bone_maps.detect_preset(set(bone_maps.PRESETS["RIGIFY"].values())) == "RIGIFY"
    assert (
        bone_maps.detect_preset(
            {
                "pelvis",
                "left_hip",
                "right_hip",
                "spine1",
                "left_knee",
                "right_knee",
                "spine2",
                "left_ankle",
                "head",
            }
        )
        == "SMPLX"
    )
    assert bone_maps.detect_preset({"foo", "bar"}) is None
    pairs = bone_maps.bone_pairs("MIXAMO", "SMPLX", mixamo, set(bone_maps.PRESETS["SMPLX"].values()))
    assert pairs[0] == ("mixamorig:Hips", "pelvis")
    assert ("mixamorig:LeftForeArm", "left_elbow") in pairs


def test_root_motion_scales_with_leg_length() -> None:
    source = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    out = retarget.scale_root_motion(source, np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.0]), 0.5)
    assert np.allclose(out, [[0.0, 0.0, 0.5], [0.5, 0.0, 0.5]])
    assert retarget.leg_length(np.zeros(3), np.array([0, 0, -0.4]), np.array([0, 0, -0.8])) == 0.8
