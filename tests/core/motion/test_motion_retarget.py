"""Retargeting maths: bone directions survive a change of rest pose (A-pose -> T-pose)."""

from __future__ import annotations

import numpy as np

from core.motion import bone_maps, retarget
from core.rotations import axis_angle_to_matrix


def _chain_rest(directions: np.ndarray) -> np.ndarray:
    """World rest rotations whose +Y axis points along each direction (arbitrary roll)."""
    up = np.array([0.0, 1.0, 0.0])
    return retarget.shortest_arc(np.broadcast_to(up, directions.shape), directions)


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


def test_directions_match_after_retarget_between_a_and_t_pose() -> None:
    rng = np.random.default_rng(1)
    # Five-bone chain: root, then an arm of three bones, and a leg bone.
    parents = np.array([-1, 0, 1, 2, 0])
    t_pose = np.array([[0, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, -1, 0]], float)
    a_pose = np.array([[0, 1, 0], [1, -1, 0], [1, -1.2, 0], [1, -1, 0.1], [0.1, -1, 0]], float)
    source_rest, target_rest = _chain_rest(a_pose), _chain_rest(t_pose)
    # Animate the source with local rotations and compose its world rotations.
    frames = 12
    local = axis_angle_to_matrix(rng.normal(scale=0.6, size=(frames, 5, 3)))
    source_world = np.empty_like(local)
    for j, p in enumerate(parents):
        base = source_rest[j] if p < 0 else source_world[:, p] @ source_rest[p].T @ source_rest[j]
        source_world[:, j] = base @ local[:, j]
    wanted = retarget.retarget_world_rotations(source_rest, source_world, target_rest)
    target_local = retarget.world_to_local_rotations(wanted, target_rest, parents)
    # Recompose the target's world rotations from its local rotations, as Blender would.
    target_world = np.empty_like(target_local)
    for j, p in enumerate(parents):
        base = target_rest[j] if p < 0 else target_world[:, p] @ target_rest[p].T @ target_rest[j]
        target_world[:, j] = base @ target_local[:, j]
    assert np.allclose(target_world[..., :, 1], source_world[..., :, 1], atol=1e-9)


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
    out = retarget.scale_root_motion(source, np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 0.5]), 0.5)
    assert np.allclose(out, [[0.0, 0.0, 0.5], [0.5, 0.0, 0.5]])
    assert retarget.leg_length(np.zeros(3), np.array([0, 0, -0.4]), np.array([0, 0, -0.8])) == 0.8
