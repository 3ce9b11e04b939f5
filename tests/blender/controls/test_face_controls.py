"""Face and body controls (real bpy): degree sliders turn one model axis each in every rotation mode,
switching a bone's rotation mode (by hand or by an importer) keeps its keyed animation, limits come
from the bound avatar's training range, and the pose library saves, applies and blends."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from core.avatar.range_stats import HEADER_KEY, compute_stats
from core.rig import anatomy
from tests.fixtures.animate import fcurve_paths, module
from tests.fixtures.blender_rig_models import make_model
from tests.fixtures.engine import bound_arrays

FLAME_NECK, FLAME_JAW = 1, 2  # FLAME joints: root, neck, jaw, eyes
MODES = ("QUATERNION", "XYZ", "ZXY", "YZX", "AXIS_ANGLE")


@pytest.fixture
def flame(addon: str, clean_scene: None):  # type: ignore[no-untyped-def]
    model = make_model("FLAME", seed=6, num_expression=6, expression_names=("jawOpen", "smileLeft"))
    parts = module("blender.rig.build").build_rig(model)
    bpy.context.view_layer.objects.active = parts.armature
    return parts


def _pose(parts) -> np.ndarray:  # type: ignore[no-untyped-def]
    bpy.context.view_layer.update()
    return module("blender.rig.pose_io").read_pose(parts)["pose"]


def test_angles_are_anatomical_in_core() -> None:
    for angles in ((20.0, 0.0, 0.0), (0.0, -35.0, 0.0), (0.0, 0.0, 15.0), (10.0, 40.0, -25.0)):
        back = anatomy.matrix_to_angles(anatomy.angles_to_matrix(np.array(angles)))
        assert np.allclose(back, angles, atol=1e-9)
    forward = np.array([0.0, 0.0, 1.0])
    assert anatomy.angles_to_matrix(np.array([30.0, 0, 0]))[1] @ forward < 0  # pitch + looks down
    assert (anatomy.angles_to_matrix(np.array([0, 30.0, 0])) @ forward)[0] > 0  # yaw + turns to +x (its left)


@pytest.mark.parametrize("mode", MODES)
def test_neck_yaw_is_a_pure_turn_in_every_rotation_mode(flame, mode: str) -> None:  # type: ignore[no-untyped-def]
    neck = flame.armature.pose.bones["neck"]
    neck.rotation_mode = mode
    neck.gavatar_angles = (0.0, 30.0, 0.0)
    pose = _pose(flame)
    assert np.allclose(pose[FLAME_NECK], [0.0, np.radians(30.0), 0.0], atol=1e-5)  # no tilt with the turn
    assert np.allclose(neck.gavatar_angles, (0.0, 30.0, 0.0), atol=1e-3)
    assert bpy.ops.gavatar.joint_angles(bone="jaw", angles=(12.0, 0.0, 0.0)) == {"FINISHED"}
    assert np.allclose(_pose(flame)[FLAME_JAW], [np.radians(12.0), 0.0, 0.0], atol=1e-5)


def test_switching_mode_converts_keys_instead_of_orphaning_them(flame) -> None:  # type: ignore[no-untyped-def]
    scene = bpy.context.scene
    neck = flame.armature.pose.bones["neck"]
    keyed = {1: (10.0, 30.0, 0.0), 11: (-15.0, -20.0, 8.0)}
    for frame, angles in keyed.items():
        scene.frame_set(frame)
        assert bpy.ops.gavatar.joint_angles(bone="neck", angles=angles, keyframe=True) == {"FINISHED"}
    assert 'pose.bones["neck"].rotation_quaternion' in fcurve_paths(flame.armature)
    assert bpy.ops.gavatar.bone_rotation_mode(bone="neck", mode="YXZ") == {"FINISHED"}
    paths = fcurve_paths(flame.armature)
    assert 'pose.bones["neck"].rotation_euler' in paths
    assert 'pose.bones["neck"].rotation_quaternion' not in paths  # nothing left behind to confuse
    for frame, angles in keyed.items():
        scene.frame_set(frame)
        assert np.allclose(neck.gavatar_angles, angles, atol=1e-3)
    # An importer that keys quaternions converts the user's Euler keys too, rather than orphaning them.
    write_pose = module("blender.rig.pose_io").write_pose
    write_pose(flame, {"pose": np.zeros((1, 5, 3))}, keyframe=True, frame_start=30)
    assert neck.rotation_mode == "QUATERNION"
    for frame, angles in keyed.items():
        scene.frame_set(frame)
        assert np.allclose(neck.gavatar_angles, angles, atol=1e-3)


def test_auto_keying_keys_the_bone_channel(flame) -> None:  # type: ignore[no-untyped-def]
    scene = bpy.context.scene
    scene.tool_settings.use_keyframe_insert_auto = True
    jaw = flame.armature.pose.bones["jaw"]
    jaw.rotation_mode = "XYZ"
    scene.frame_set(5)
    jaw.gavatar_angles = (20.0, 0.0, 0.0)
    assert 'pose.bones["jaw"].rotation_euler' in fcurve_paths(flame.armature)
    scene.frame_set(1)
    scene.frame_set(5)
    assert np.allclose(jaw.gavatar_angles, (20.0, 0.0, 0.0), atol=1e-3)


def test_limits_come_from_the_bound_avatars_training_range(flame) -> None:  # type: ignore[no-untyped-def]
    splat_data = module("engine.splats.data")
    faces = len(flame.mesh.data.polygons)
    pose = np.zeros((40, 5, 3))
    pose[:, FLAME_JAW, 0] = np.linspace(0.0, np.radians(25.0), 40)  # the jaw only ever opened 0..25 degrees
    pose[:, FLAME_NECK, 1] = np.linspace(np.radians(-30.0), np.radians(40.0), 40)
    header = {HEADER_KEY: compute_stats(np.zeros((40, 6)), pose).to_header()}
    splat_data.create_splat_object("Avatar", bound_arrays(faces, count=50), driver=flame.mesh, header=header)
    jaw = flame.armature.pose.bones["jaw"]
    jaw.gavatar_angles = (60.0, 0.0, 0.0)
    assert np.allclose(jaw.gavatar_angles, (25.0, 0.0, 0.0), atol=0.01)
    assert bpy.ops.gavatar.joint_angles(bone="neck", angles=(0.0, 70.0, 0.0)) == {"FINISHED"}
    assert np.allclose(flame.armature.pose.bones["neck"].gavatar_angles, (0.0, 40.0, 0.0), atol=0.01)
    flame.armature.gavatar_animate.limit_to_training = False  # the animator may go beyond, on purpose
    jaw.gavatar_angles = (60.0, 0.0, 0.0)
    assert np.allclose(jaw.gavatar_angles, (60.0, 0.0, 0.0), atol=0.01)


def test_pose_library_saves_applies_and_blends(flame) -> None:  # type: ignore[no-untyped-def]
    blocks = flame.mesh.data.shape_keys.key_blocks
    bones = flame.armature.pose.bones
    bones["jaw"].gavatar_angles = (20.0, 0.0, 0.0)
    blocks["Exp000"].value = 0.8
    assert bpy.ops.gavatar.pose_library_save(name="Open", part="FACE") == {"FINISHED"}
    asset = bpy.data.actions["FLAME Open"]  # the bones also as a pose asset for Blender's Pose Library
    assert asset.asset_data is not None
    assert 'pose.bones["jaw"].rotation_quaternion' in {
        f.data_path
        for layer in asset.layers
        for strip in layer.strips
        for bag in strip.channelbags
        for f in bag.fcurves
    }
    assert flame.armature.animation_data.action is None  # the rig's own animation is untouched
    assert bpy.ops.gavatar.reset_face() == {"FINISHED"}
    bones["jaw"].rotation_mode = "ZXY"  # the library applies whatever the bone's mode
    assert bpy.ops.gavatar.pose_library_apply(name="Open", weight=0.5) == {"FINISHED"}
    assert np.allclose(bones["jaw"].gavatar_angles, (10.0, 0.0, 0.0), atol=1e-3)
    assert blocks["Exp000"].value == pytest.approx(0.4)
    bpy.context.scene.frame_set(7)
    assert bpy.ops.gavatar.pose_library_apply(name="Open", weight=1.0, keyframe=True) == {"FINISHED"}
    assert np.allclose(bones["jaw"].gavatar_angles, (20.0, 0.0, 0.0), atol=1e-3)
    assert 'pose.bones["jaw"].rotation_euler' in fcurve_paths(flame.armature)
    assert 'key_blocks["Exp000"].value' in fcurve_paths(flame.mesh.data.shape_keys)
    with pytest.raises(RuntimeError, match="has no library pose named 'Missing'"):
        bpy.ops.gavatar.pose_library_apply(name="Missing")
    assert bpy.ops.gavatar.pose_library_remove(name="Open") == {"FINISHED"}
    assert len(flame.armature.gavatar_animate.poses) == 0
    assert "FLAME Open" not in bpy.data.actions
