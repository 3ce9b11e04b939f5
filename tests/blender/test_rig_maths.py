"""The bpy-free maths behind the Blender rig (core/rig/bone_frames.py)."""

from __future__ import annotations

import numpy as np
import pytest

from core import rotations
from core.rig import bone_frames, lbs
from tests.fixtures.blender_rig_models import make_model


@pytest.mark.parametrize("family", ["FLAME", "SMPLX"])
def test_bone_layout_frames_are_rotations_along_the_bones(family: str) -> None:
    model = make_model(family, seed=1)
    joints = model.joint_regressor @ model.v_template
    heads, tails, frames = bone_frames.bone_layout(joints, model.parents, model.joint_names)
    np.testing.assert_allclose(heads, joints)
    np.testing.assert_allclose(
        frames @ frames.transpose(0, 2, 1), np.broadcast_to(np.eye(3), frames.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(frames), 1.0, atol=1e-12)
    along = tails - heads
    lengths = np.linalg.norm(along, axis=1)
    assert np.all(lengths >= 0.005)
    np.testing.assert_allclose(along / lengths[:, None], frames[:, :, 1], atol=1e-12)
    for j, name in enumerate(model.joint_names):
        if "eye" in name:
            np.testing.assert_allclose(frames[j][:, 1], [0.0, 0.0, 1.0])


def test_local_and_model_rotations_are_conjugates() -> None:
    rng = np.random.default_rng(0)
    frames = rotations.axis_angle_to_matrix(rng.normal(size=(6, 3)))
    model_rot = rotations.axis_angle_to_matrix(rng.normal(size=(4, 6, 3)))
    local = bone_frames.model_to_local(model_rot, frames)
    np.testing.assert_allclose(local[2, 3], frames[3].T @ model_rot[2, 3] @ frames[3], atol=1e-12)
    np.testing.assert_allclose(bone_frames.local_to_model(local, frames), model_rot, atol=1e-12)


def test_correctives_in_bone_frames_reproduce_pose_features() -> None:
    model = make_model("SMPLX", seed=2)
    rng = np.random.default_rng(1)
    frames = rotations.axis_angle_to_matrix(rng.normal(size=(model.num_joints, 3)))
    per_entry = bone_frames.correctives_in_bone_frames(model.pose_dirs, frames)
    model_rot = rotations.axis_angle_to_matrix(rng.normal(size=(model.num_joints, 3)))
    local = bone_frames.model_to_local(model_rot, frames)
    ours = np.einsum("vkjcd,jcd->vk", per_entry, local[1:] - np.eye(3))
    np.testing.assert_allclose(ours, model.pose_dirs @ lbs.pose_features(model_rot), atol=1e-12)


def test_driver_expressions_are_rotation_minus_identity() -> None:
    rng = np.random.default_rng(2)
    for q in rotations.axis_angle_to_quaternion(rng.normal(size=(20, 3))):
        want = rotations.quaternion_to_matrix(q) - np.eye(3)
        scope = dict(zip("wxyz", q.tolist(), strict=True))
        for (row, column), (expression, names) in bone_frames.ROTATION_MINUS_IDENTITY.items():
            assert set(names) <= set("wxyz")
            value = eval(expression, {"__builtins__": {}}, {n: scope[n] for n in names})
            assert value == pytest.approx(want[row, column], abs=1e-12)


def test_continuous_quaternions_take_the_short_way() -> None:
    rng = np.random.default_rng(3)
    q = rotations.axis_angle_to_quaternion(np.cumsum(rng.normal(scale=0.5, size=(50, 4, 3)), axis=0))
    q *= rng.choice([-1.0, 1.0], size=(50, 4, 1))
    out = bone_frames.continuous_quaternions(q)
    assert np.all(np.sum(out[1:] * out[:-1], axis=-1) >= 0)
    np.testing.assert_allclose(
        rotations.quaternion_to_matrix(out), rotations.quaternion_to_matrix(q), atol=1e-12
    )


def test_joint_blendshapes_are_the_regressor_on_the_bases() -> None:
    model = make_model("FLAME", seed=4)
    rng = np.random.default_rng(4)
    betas, expression = rng.normal(size=model.num_shape), rng.normal(size=model.num_expression)
    template, shape, expr = bone_frames.joint_blendshapes(model)
    got = template + shape @ betas + expr @ expression
    np.testing.assert_allclose(got, lbs.forward(model, betas, expression).rest_joints, atol=1e-12)


@pytest.mark.parametrize("family", ["FLAME", "SMPLX"])
def test_bones_run_from_their_joint_to_their_child_joint(family: str) -> None:
    """A thigh runs hip to knee, a spine to the next spine joint, a hand to its middle finger, so the
    pose reads as an animator expects; a head points on from the neck, not at an eye or the jaw."""
    model = make_model(family, seed=3)
    joints = model.joint_regressor @ model.v_template
    _, _, frames = bone_frames.bone_layout(joints, model.parents, model.joint_names)
    names = list(model.joint_names)
    chain = {
        "pelvis": "spine1",
        "spine3": "neck",
        "left_wrist": "left_middle1",
        "right_wrist": "right_middle1",
    }
    for j, name in enumerate(names):
        children = [c for c in range(len(names)) if model.parents[c] == j]
        children = [c for c in children if "eye" not in names[c] and "jaw" not in names[c]]
        if len(children) == 1:
            target = children[0]
        elif name in chain:
            target = names.index(chain[name])
        else:
            continue
        along = joints[target] - joints[j]
        np.testing.assert_allclose(frames[j][:, 1], along / np.linalg.norm(along), atol=1e-9, err_msg=name)
    if family == "SMPLX":
        head, neck = names.index("head"), names.index("neck")
        along = joints[head] - joints[neck]
        np.testing.assert_allclose(frames[head][:, 1], along / np.linalg.norm(along), atol=1e-9)
