"""The Blender rig reproduces the numpy forward: depsgraph-evaluated driver mesh == lbs.forward.

Runs on generated FLAME- and SMPL-X-format models (tests/fixtures/blender_rig_models.py); the stand-in files
are exercised in tests/workflows/test_rig_ops.py.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import bpy
import numpy as np
import pytest

from core.rig import lbs
from core.rig.model import RigModel
from tests.fixtures.blender_rig_models import make_model, random_inputs

TOLERANCE = 1e-4  # metres, on every vertex, in Blender's world


def _module(addon: str, name: str) -> ModuleType:
    return importlib.import_module(f"{addon}.blender.rig.{name}")


@pytest.fixture
def rig_api(addon: str, clean_scene: None) -> dict[str, ModuleType]:
    return {
        name: _module(addon, name) for name in ("build", "pose_io", "parts", "rest", "auto_rest", "naming")
    }


def evaluated_world(parts) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The driver mesh as Blender's depsgraph evaluates it, in world coordinates."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    mesh = parts.mesh.evaluated_get(depsgraph).data
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", co)
    world = np.array(parts.mesh.evaluated_get(depsgraph).matrix_world, dtype=np.float64)
    return co.reshape(-1, 3).astype(np.float64) @ world[:3, :3].T + world[:3, 3]


def forward_world(parts, model: RigModel, inputs: dict[str, np.ndarray]) -> np.ndarray:  # type: ignore[no-untyped-def]
    depsgraph = bpy.context.evaluated_depsgraph_get()
    world = np.array(parts.mesh.evaluated_get(depsgraph).matrix_world, dtype=np.float64)
    return lbs.forward(model, **inputs).vertices @ world[:3, :3].T + world[:3, 3]


@pytest.mark.parametrize("family", ["FLAME", "SMPLX"])
def test_evaluated_mesh_matches_forward_after_round_trip(rig_api, family: str) -> None:
    model = make_model(family, seed=3)
    parts = rig_api["build"].build_rig(model)
    # The armature object may be anywhere: the world matrix is part of the comparison.
    parts.armature.location = (0.4, -1.2, 0.3)
    parts.armature.rotation_euler[2] = 0.7
    parts.armature.scale = (1.0, 1.0, 1.0)
    rng = np.random.default_rng(7)
    worst_write = worst_read = worst_params = 0.0
    for _ in range(20):
        inputs = random_inputs(model, rng)
        rig_api["pose_io"].write_pose(parts, inputs)
        blender = evaluated_world(parts)
        worst_write = max(worst_write, float(np.abs(blender - forward_world(parts, model, inputs)).max()))
        back = rig_api["pose_io"].read_pose(parts)
        worst_read = max(worst_read, float(np.abs(blender - forward_world(parts, model, back)).max()))
        worst_params = max(
            worst_params,
            float(np.abs(back["betas"] - inputs["betas"]).max()),
            float(np.abs(back["expression"] - inputs["expression"]).max()),
            float(np.abs(back["transl"] - inputs["transl"]).max()),
            float(
                np.abs(
                    lbs.axis_angle_to_matrix(back["pose"]) - lbs.axis_angle_to_matrix(inputs["pose"])
                ).max()
            ),
        )
    print(f"{family}: max vertex error write {worst_write:.2e} m, after read-back {worst_read:.2e} m")
    assert worst_write < TOLERANCE
    assert worst_read < TOLERANCE
    assert worst_params < 1e-5


def test_rig_layout(rig_api) -> None:
    model = make_model("SMPLX", seed=4, num_shape=5, num_expression=4, expression_names=("a", "b", "c", "d"))
    parts = rig_api["build"].build_rig(model, num_shape=3)
    naming = rig_api["naming"]
    arm = parts.armature
    assert parts.collection is not None and arm.name in parts.collection.objects
    assert parts.mesh.parent is arm and parts.joints.parent is arm
    assert tuple(arm.rotation_euler) == pytest.approx((np.pi / 2, 0.0, 0.0))
    # Y-up model point (x, y, z) sits at (x, -z, y) in Blender's world.
    np.testing.assert_allclose(
        np.array(arm.matrix_world)[:3, :3], [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-6
    )
    bones = arm.data.bones
    for j, name in enumerate(model.joint_names):
        assert not bones[name].use_deform
        assert bones[naming.deform_bone(name)].use_deform
        np.testing.assert_allclose(
            bones[name].head_local, model.joint_regressor[j] @ model.v_template, atol=1e-6
        )
    assert {g.name for g in parts.mesh.vertex_groups} == {naming.deform_bone(n) for n in model.joint_names}
    keys = [k.name for k in parts.mesh.data.shape_keys.key_blocks]
    assert keys[:8] == ["Basis", "Shape000", "Shape001", "Shape002", "Exp000", "Exp001", "Exp002", "Exp003"]
    assert any(k.startswith("Pose.left_knee.") for k in keys)
    blocks = parts.mesh.data.shape_keys.key_blocks
    assert blocks["Shape000"].slider_min <= -5 and blocks["Shape000"].slider_max >= 5
    assert blocks["Exp000"].slider_min <= -5 and blocks["Exp000"].slider_max >= 5
    info = parts.info
    assert info.family == "SMPLX" and info.num_shape == 3 and info.num_expression == 4
    assert [n.name for n in info.expression_names] == ["a", "b", "c", "d"]
    assert info.model_name == model.source_name and info.model_sha256 == model.source_sha256
    # Every corrective driver stays inside Blender's simple-expression evaluator (no Python).
    drivers = parts.mesh.data.shape_keys.animation_data.drivers
    scripted = [fc.driver for fc in drivers if fc.driver.type == "SCRIPTED"]
    assert scripted and all(d.is_simple_expression and d.is_valid for d in scripted)
    # Any part leads to the same rig.
    find = rig_api["parts"].find_rig
    for obj in (arm, parts.mesh, parts.joints):
        assert find(obj) == parts


def test_correctives_follow_any_rotation_mode_and_constraints(rig_api) -> None:
    model = make_model("FLAME", seed=5)
    parts = rig_api["build"].build_rig(model)
    rng = np.random.default_rng(1)
    inputs = random_inputs(model, rng)
    rig_api["pose_io"].write_pose(parts, inputs)
    expected = evaluated_world(parts)
    # Same rotation in Euler mode: the drivers read the evaluated rotation, not the quaternion channels.
    for name in model.joint_names:
        bone = parts.armature.pose.bones[name]
        euler = bone.rotation_quaternion.to_euler("XYZ")
        bone.rotation_mode = "XYZ"
        bone.rotation_euler = euler
    np.testing.assert_allclose(evaluated_world(parts), expected, atol=TOLERANCE)
    # A constraint that rotates the jaw: the mesh and read_pose both include it.
    jaw = parts.armature.pose.bones["jaw"]
    con = jaw.constraints.new("LIMIT_ROTATION")
    con.use_limit_x = con.use_limit_y = con.use_limit_z = True
    con.owner_space = "LOCAL"
    blender = evaluated_world(parts)
    back = rig_api["pose_io"].read_pose(parts)
    np.testing.assert_allclose(back["pose"][2], 0.0, atol=1e-6)
    np.testing.assert_allclose(blender, forward_world(parts, model, back), atol=TOLERANCE)


def test_keyframed_sequence_round_trip(rig_api) -> None:
    model = make_model("SMPLX", seed=6)
    parts = rig_api["build"].build_rig(model)
    rng = np.random.default_rng(2)
    frames = [random_inputs(model, rng) for _ in range(4)]
    seq = {k: np.stack([f[k] for f in frames]) for k in ("expression", "pose", "transl")}
    seq["betas"] = frames[0]["betas"]  # one identity for the sequence
    scene = bpy.context.scene
    report = rig_api["pose_io"].write_pose(parts, seq, keyframe=True, frame_start=10)
    assert report.frames == 4 and not report.messages()
    for t in range(4):
        scene.frame_set(10 + t)
        want = {**frames[t], "betas": seq["betas"]}
        np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, model, want), atol=TOLERANCE)
    back = rig_api["pose_io"].read_sequence(parts, scene, 10, 13)
    assert back["pose"].shape == (4, model.num_joints, 3)
    np.testing.assert_allclose(back["transl"], seq["transl"], atol=1e-5)
    np.testing.assert_allclose(back["expression"], seq["expression"], atol=1e-5)
    np.testing.assert_allclose(back["betas"], np.broadcast_to(seq["betas"], (4, model.num_shape)), atol=1e-5)
    np.testing.assert_allclose(
        lbs.axis_angle_to_matrix(back["pose"]), lbs.axis_angle_to_matrix(seq["pose"]), atol=1e-5
    )
    # Re-writing part of the range replaces those keys and keeps the others.
    rig_api["pose_io"].write_pose(
        parts, {k: v[:2] for k, v in seq.items() if k != "betas"}, keyframe=True, frame_start=12
    )
    scene.frame_set(11)
    want = {**frames[1], "betas": seq["betas"]}
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, model, want), atol=TOLERANCE)
    scene.frame_set(13)
    want = {**frames[1], "betas": seq["betas"]}
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, model, want), atol=TOLERANCE)


def test_write_reports_what_the_rig_cannot_hold(rig_api) -> None:
    model = make_model("FLAME", seed=8, num_shape=6)
    parts = rig_api["build"].build_rig(model, num_shape=2)
    report = rig_api["pose_io"].write_pose(
        parts,
        {
            "betas": np.array([1.0, 2.0, 3.0, 0.0, 0.0, 0.0]),
            "expression": np.full(model.num_expression, 12.0),
        },
    )
    text = " ".join(report.messages())
    assert "shape 2..5" in text and "clamped" in text
    blocks = parts.mesh.data.shape_keys.key_blocks
    assert blocks["Shape001"].value == pytest.approx(2.0) and blocks["Exp000"].value == pytest.approx(10.0)
    with pytest.raises(ValueError, match="frames"):
        rig_api["pose_io"].write_pose(parts, {"pose": np.zeros((3, 5, 3)), "transl": np.zeros((2, 3))})


def test_rest_joints_follow_shape(rig_api) -> None:
    model = make_model("SMPLX", seed=9)
    parts = rig_api["build"].build_rig(model)
    rng = np.random.default_rng(3)
    inputs = random_inputs(model, rng)
    rig_api["pose_io"].write_pose(parts, inputs)
    before = evaluated_world(parts)
    moved = rig_api["rest"].bake_rest_joints(parts)
    assert moved > 1e-4
    after = evaluated_world(parts)
    np.testing.assert_allclose(after, before, atol=1e-5)  # the deformed mesh does not move
    np.testing.assert_allclose(after, forward_world(parts, model, inputs), atol=TOLERANCE)
    rest = lbs.forward(model, betas=inputs["betas"]).rest_joints
    heads = np.array([parts.armature.data.bones[n].head_local for n in model.joint_names])
    np.testing.assert_allclose(heads, rest, atol=1e-5)
    assert rig_api["rest"].bake_rest_joints(parts) == 0.0  # nothing left to move


def test_shape_key_edits_schedule_a_rest_update(rig_api) -> None:
    auto = rig_api["auto_rest"]
    assert auto.on_depsgraph_update in bpy.app.handlers.depsgraph_update_post
    model = make_model("FLAME", seed=10)
    parts = rig_api["build"].build_rig(model)
    bpy.context.evaluated_depsgraph_get().update()
    if bpy.app.timers.is_registered(auto.bake_stale_rigs):
        bpy.app.timers.unregister(auto.bake_stale_rigs)
    assert auto.stale_rigs() == []
    parts.mesh.data.shape_keys.key_blocks["Shape001"].value = 2.5
    bpy.context.view_layer.update()  # runs depsgraph_update_post, as any UI edit does
    assert bpy.app.timers.is_registered(auto.bake_stale_rigs)
    bpy.app.timers.unregister(auto.bake_stale_rigs)
    assert auto.stale_rigs() == [parts]
    auto.bake_stale_rigs()  # what the timer runs (timers need Blender's event loop)
    assert auto.stale_rigs() == []
    rest = lbs.forward(model, betas=np.array([0.0, 2.5])).rest_joints
    np.testing.assert_allclose(parts.armature.data.bones["jaw"].head_local, rest[2], atol=1e-5)
    # Switched off per rig: nothing is scheduled.
    parts.info.auto_rest = False
    parts.mesh.data.shape_keys.key_blocks["Shape001"].value = 1.0
    bpy.context.view_layer.update()
    assert not bpy.app.timers.is_registered(auto.bake_stale_rigs)
    # Animated identity: the rest cannot follow it in time, so no bakes while scrubbing.
    parts.info.auto_rest = True
    rig_api["pose_io"].write_pose(
        parts, {"betas": np.array([[0.0, 1.0], [0.0, 3.0]])}, keyframe=True, frame_start=1
    )
    bpy.context.scene.frame_set(2)
    assert auto.stale_rigs() == []


def test_rig_survives_save_and_reload(rig_api, tmp_path) -> None:
    model = make_model("FLAME", seed=11)
    parts = rig_api["build"].build_rig(model)
    inputs = random_inputs(model, np.random.default_rng(4))
    rig_api["pose_io"].write_pose(parts, inputs)
    before = evaluated_world(parts)
    mesh_name = parts.mesh.name
    path = tmp_path / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    reloaded = rig_api["parts"].find_rig(bpy.data.objects[mesh_name])
    assert reloaded is not None and reloaded.info.family == "FLAME"
    np.testing.assert_allclose(evaluated_world(reloaded), before, atol=1e-6)
    back = rig_api["pose_io"].read_pose(reloaded)
    np.testing.assert_allclose(forward_world(reloaded, model, back), before, atol=TOLERANCE)


def test_static_offsets_move_mesh_and_joints(rig_api) -> None:
    model = make_model("FLAME", seed=12)
    parts = rig_api["build"].build_rig(model)
    rng = np.random.default_rng(5)
    offsets = rng.normal(scale=0.003, size=(model.num_vertices, 3))
    rig_api["pose_io"].set_static_offsets(parts, offsets, model.joint_regressor)
    inputs = random_inputs(model, rng)
    rig_api["pose_io"].write_pose(parts, inputs)
    want = forward_world(parts, model, {**inputs, "vertex_offsets": offsets})
    np.testing.assert_allclose(evaluated_world(parts), want, atol=TOLERANCE)
    back = rig_api["pose_io"].read_pose(parts)
    np.testing.assert_allclose(back["vertex_offsets"], offsets, atol=1e-6)


def test_without_correctives(rig_api) -> None:
    model = make_model("FLAME", seed=13)
    parts = rig_api["build"].build_rig(model, correctives=False)
    assert not parts.info.has_correctives
    assert not any(k.name.startswith("Pose.") for k in parts.mesh.data.shape_keys.key_blocks)
    inputs = random_inputs(model, np.random.default_rng(6))
    rig_api["pose_io"].write_pose(parts, inputs)
    flat = RigModel(**{**model.__dict__, "pose_dirs": np.zeros_like(model.pose_dirs)})
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, flat, inputs), atol=TOLERANCE)


def test_live_correctives_switch(rig_api) -> None:
    model = make_model("SMPLX", seed=14)
    parts = rig_api["build"].build_rig(model)
    inputs = random_inputs(model, np.random.default_rng(7))
    rig_api["pose_io"].write_pose(parts, inputs)
    flat = RigModel(**{**model.__dict__, "pose_dirs": np.zeros_like(model.pose_dirs)})
    parts.info.live_correctives = False
    blocks = parts.mesh.data.shape_keys.key_blocks
    assert all(b.mute for b in blocks if b.name.startswith("Pose."))
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, flat, inputs), atol=TOLERANCE)
    parts.info.live_correctives = True
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, model, inputs), atol=TOLERANCE)
