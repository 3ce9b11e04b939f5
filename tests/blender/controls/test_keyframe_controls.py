"""Keyframe controls (real bpy): keys on expression values and bone rotations interpolate the driver
mesh smoothly; body presets, the eye target and the keying operators do what the Animate panel says."""

from __future__ import annotations

import itertools
from pathlib import Path

import bpy
import numpy as np
import pytest
from mathutils import Quaternion, Vector

from core.rig import lbs
from core.rotations import axis_angle_to_quaternion, quaternion_to_axis_angle, slerp
from tests.fixtures.animate import (
    active_parts,
    evaluated_mesh_world,
    fcurve_paths,
    module,
    open_blend,
    standin_smplx_blend,  # noqa: F401  (fixture)
)
from tests.fixtures.blender_rig_models import make_model
from tests.fixtures.standin import standin_dir  # noqa: F401  (fixture)


@pytest.fixture
def flame(addon: str, clean_scene: None):  # type: ignore[no-untyped-def]
    model = make_model("FLAME", seed=6, num_expression=6, expression_names=("jawOpen", "smileLeft"))
    return module("blender.rig.build").build_rig(model), model


def _model_world(parts, model, inputs) -> np.ndarray:  # type: ignore[no-untyped-def]
    world = np.array(parts.mesh.matrix_world)
    return lbs.forward(model, **inputs).vertices @ world[:3, :3].T + world[:3, 3]


@pytest.mark.parametrize("use_operator", [False, True])
def test_keys_interpolate_the_mesh_smoothly(flame, use_operator: bool) -> None:  # type: ignore[no-untyped-def]
    parts, model = flame
    blocks = parts.mesh.data.shape_keys.key_blocks
    bones = parts.armature.pose.bones
    pose_io = module("blender.rig.pose_io")
    scene = bpy.context.scene
    ends = []
    for frame, (e0, e1, jaw_angle, neck_axis) in (
        (1, (0.0, 0.5, 0.0, (0, 1, 0))),
        (11, (2.0, -1.0, 0.5, (1, 0, 1))),
    ):
        scene.frame_set(frame)
        blocks["Exp000"].value, blocks["Exp001"].value = e0, e1
        bones["jaw"].rotation_quaternion = Quaternion((1.0, 0.0, 0.0), jaw_angle)
        bones["neck"].rotation_quaternion = Quaternion(Vector(neck_axis).normalized(), 0.3 * (frame > 1))
        if use_operator:
            assert bpy.ops.gavatar.key_rig(part="FACE") == {"FINISHED"}
        else:  # what pressing I over each slider does
            for name in ("Exp000", "Exp001"):
                blocks[name].keyframe_insert("value", frame=frame)
            for name in ("jaw", "neck"):
                bones[name].keyframe_insert("rotation_quaternion", frame=frame)
        bpy.context.view_layer.update()
        ends.append(pose_io.read_pose(parts))
    scene.frame_set(1)
    start_mesh = evaluated_mesh_world(parts.mesh)
    scene.frame_set(11)
    end_mesh = evaluated_mesh_world(parts.mesh)
    assert np.abs(end_mesh - start_mesh).max() > 0.01  # the keys do move the mesh
    # The midpoint: Bezier keys sit half-way, quaternions half-way on the arc.
    scene.frame_set(6)
    mid = evaluated_mesh_world(parts.mesh)
    half_pose = quaternion_to_axis_angle(
        slerp(axis_angle_to_quaternion(ends[0]["pose"]), axis_angle_to_quaternion(ends[1]["pose"]), 0.5)
    )
    half = {"expression": (ends[0]["expression"] + ends[1]["expression"]) / 2, "pose": half_pose}
    assert np.abs(mid - _model_world(parts, model, half)).max() < 1e-4
    # Every vertex moves steadily away from the first key and towards the second.
    from_start, to_end = [], []
    for frame in range(1, 12):
        scene.frame_set(frame)
        mesh = evaluated_mesh_world(parts.mesh)
        from_start.append(np.linalg.norm(mesh - start_mesh, axis=1))
        to_end.append(np.linalg.norm(mesh - end_mesh, axis=1))
    moving = np.linalg.norm(end_mesh - start_mesh, axis=1) > 1e-3
    assert np.all(np.diff(np.array(from_start)[:, moving], axis=0) > -1e-6)
    assert np.all(np.diff(np.array(to_end)[:, moving], axis=0) < 1e-6)
    # Mid lies between: no farther from either end than the ends are from each other.
    gap = np.linalg.norm(end_mesh - start_mesh, axis=1)
    assert np.all(np.linalg.norm(mid - start_mesh, axis=1) <= gap + 1e-6)
    assert np.all(np.linalg.norm(mid - end_mesh, axis=1) <= gap + 1e-6)


def test_key_rig_keys_the_real_properties(flame) -> None:  # type: ignore[no-untyped-def]
    parts, _model = flame
    assert bpy.ops.gavatar.key_rig(part="ALL") == {"FINISHED"}
    arm = fcurve_paths(parts.armature)
    assert {f'pose.bones["{n}"].rotation_quaternion' for n in ("root", "neck", "jaw", "left_eye")} <= arm
    assert 'pose.bones["root"].location' in arm
    keys = fcurve_paths(parts.mesh.data.shape_keys)
    assert {f'key_blocks["Exp{i:03d}"].value' for i in range(6)} <= keys
    assert not any("Shape" in p for p in keys)  # identity is not animation


def test_eye_target_turns_the_eyes(flame) -> None:  # type: ignore[no-untyped-def]
    parts, model = flame
    assert bpy.ops.gavatar.eye_target(action="ADD", distance=0.5) == {"FINISHED"}
    look_at = module("blender.animate.look_at")
    empty = look_at.eye_target(parts)
    assert empty is not None and empty.parent == parts.armature
    empty.location.x += 0.2  # the user drags the target sideways
    bpy.context.view_layer.update()
    evaluated = parts.armature.evaluated_get(bpy.context.evaluated_depsgraph_get())
    world = np.array(evaluated.matrix_world, dtype=np.float64)
    target = np.array(empty.matrix_world, dtype=np.float64)[:3, 3]
    for eye in ("left_eye", "right_eye"):
        bone = evaluated.pose.bones[eye]
        head = world[:3, :3] @ np.array(bone.head, dtype=np.float64) + world[:3, 3]
        look = world[:3, :3] @ np.array(bone.matrix, dtype=np.float64)[:3, 1]
        wanted = (target - head) / np.linalg.norm(target - head)
        error = np.degrees(np.arccos(np.clip(look @ wanted / np.linalg.norm(look), -1, 1)))
        assert error < 0.05  # float32 bone matrices
    # The mesh follows the constrained eyes (read_pose sees the constraint).
    read = module("blender.rig.pose_io").read_pose(parts)
    assert np.linalg.norm(read["pose"][3]) > 0.05
    assert np.abs(evaluated_mesh_world(parts.mesh) - _model_world(parts, model, read)).max() < 1e-4
    name = empty.name
    assert bpy.ops.gavatar.eye_target(action="REMOVE") == {"FINISHED"}
    assert look_at.eye_target(parts) is None and name not in bpy.data.objects


def _arm_directions(parts) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Model-space direction from each arm joint to the next, on the evaluated skeleton."""
    evaluated = parts.armature.evaluated_get(bpy.context.evaluated_depsgraph_get())
    heads = {b.name: np.array(b.head) for b in evaluated.pose.bones}
    out = {}
    for side in ("left", "right"):
        chain = [f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist", f"{side}_middle1"]
        for a, b in itertools.pairwise(chain):
            d = heads[b] - heads[a]
            out[a] = d / np.linalg.norm(d)
    return out


def _check_presets(parts) -> None:  # type: ignore[no-untyped-def]
    assert bpy.ops.gavatar.pose_preset(body="T", hands="FLAT", keyframe=True) == {"FINISHED"}
    for name, d in _arm_directions(parts).items():
        sign = 1.0 if name.startswith("left") else -1.0
        assert np.allclose(d, [sign, 0.0, 0.0], atol=1e-4), (name, d)
    assert 'pose.bones["left_elbow"].rotation_quaternion' in fcurve_paths(parts.armature)
    bones = parts.armature.pose.bones
    assert all(np.allclose(bones[f"left_index{i}"].rotation_quaternion, (1, 0, 0, 0)) for i in (1, 2, 3))
    assert bpy.ops.gavatar.pose_preset(body="A", hands="RELAXED") == {"FINISHED"}
    c = np.cos(np.radians(45.0))
    for name, d in _arm_directions(parts).items():
        sign = 1.0 if name.startswith("left") else -1.0
        assert np.allclose(d, [sign * c, -c, 0.0], atol=1e-4), (name, d)
    # Relaxed fingers bend: each finger joint turns by its preset angle.
    angle = 2 * np.degrees(np.arccos(min(1.0, abs(bones["left_middle2"].rotation_quaternion[0]))))
    assert angle == pytest.approx(28.0, abs=1e-3)
    assert bpy.ops.gavatar.pose_preset(body="REST", hands="KEEP") == {"FINISHED"}
    assert np.allclose(bones["left_shoulder"].rotation_quaternion, (1, 0, 0, 0))
    assert not np.allclose(bones["left_middle2"].rotation_quaternion, (1, 0, 0, 0))  # hands kept


def test_body_presets_on_a_generated_rig(addon: str, clean_scene: None) -> None:
    module("blender.rig.build").build_rig(make_model("SMPLX", seed=8))
    _check_presets(active_parts())


def test_body_presets_on_the_standin(standin_smplx_blend: Path) -> None:  # noqa: F811
    open_blend(standin_smplx_blend)
    _check_presets(active_parts())


def test_presets_refuse_a_head_rig(flame) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="body presets are for SMPL-X"):
        bpy.ops.gavatar.pose_preset(body="T")


def test_panels_are_registered(addon: str) -> None:
    for name in ("GAVATAR_PT_animate", "GAVATAR_PT_retarget", "GAVATAR_UL_bone_map"):
        assert hasattr(bpy.types, name)
    assert bpy.types.GAVATAR_PT_animate.bl_parent_id == "GAVATAR_PT_main"
