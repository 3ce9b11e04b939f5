"""gavatar.reenact (real bpy): tracked FLAME sequences keyed onto head rigs, only the chosen parts."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from core.motion import flame_sequence
from core.rig import lbs
from tests.core.motion.test_motion_flame_sequence import write_flame_param_folder
from tests.fixtures.animate import active_parts, data_counts, evaluated_mesh_world, fcurve_paths, module
from tests.fixtures.blender_rig_models import make_model


@pytest.fixture
def flame_rig(addon: str, clean_scene: None):  # type: ignore[no-untyped-def]
    model = make_model("FLAME", seed=2, num_expression=6)
    parts = module("blender.rig.build").build_rig(model)
    return parts, model


def test_sequence_reproduces_the_tracking(flame_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts, model = flame_rig
    root = write_flame_param_folder(tmp_path / "subject", frames=10)
    seq = flame_sequence.read_flame_sequence(root)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    result = bpy.ops.gavatar.reenact(filepath=str(root), source_fps=25.0, frame_start=3, use_translation=True)
    assert result == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end) == (3, 12)
    worst = 0.0
    for k in range(10):
        scene.frame_set(3 + k)
        f = seq.frames
        pose = np.concatenate([f["rotation"][k], f["neck_pose"][k], f["jaw_pose"][k], f["eyes_pose"][k]])
        out = lbs.forward(model, expression=f["expr"][k, :6], pose=pose, transl=f["translation"][k])
        world = np.array(parts.mesh.matrix_world)
        expected = out.vertices @ world[:3, :3].T + world[:3, 3]
        worst = max(worst, float(np.abs(evaluated_mesh_world(parts.mesh) - expected).max()))
    print(f"reenactment reproduces the tracked FLAME forward within {worst:.2e} m")
    assert worst < 1e-4
    # The identity was not touched (shape off by default).
    blocks = parts.mesh.data.shape_keys.key_blocks
    assert all(blocks[f"Shape{i:03d}"].value == 0.0 for i in range(model.num_shape))


def test_only_chosen_parts_are_keyed_and_resampled(flame_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts, _model = flame_rig
    neck = parts.armature.pose.bones["neck"]
    neck.rotation_quaternion = (0.9, 0.3, 0.0, 0.0)
    neck.keyframe_insert("rotation_quaternion", frame=1)
    path = tmp_path / "seq.npz"
    rng = np.random.default_rng(4)
    t = np.arange(51) / 50.0
    np.savez(path, expr=rng.normal(size=(51, 6)), jaw_pose=np.stack([t, 0 * t, 0 * t], 1), fps=50.0)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    ok = bpy.ops.gavatar.reenact(filepath=str(path), use_neck=False, use_rotation=False, new_action=False)
    assert ok == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end) == (1, 31)  # 1 s at 50 fps -> 31 frames at 30 fps
    paths = fcurve_paths(parts.armature)
    assert 'pose.bones["jaw"].rotation_quaternion' in paths
    assert 'pose.bones["neck"].rotation_quaternion' in paths  # the user's own key survives
    assert 'pose.bones["root"].rotation_quaternion' not in paths
    pose_io = module("blender.rig.pose_io")
    for k in (0, 7, 30):
        scene.frame_set(1 + k)
        jaw = pose_io.read_pose(parts)["pose"][2]
        assert np.allclose(jaw, [k / 30.0, 0.0, 0.0], atol=1e-5)


def test_smplx_rig_takes_the_face(addon: str, clean_scene: None, tmp_path: Path) -> None:
    parts = module("blender.rig.build").build_rig(make_model("SMPLX", seed=1, num_expression=6))
    root = write_flame_param_folder(tmp_path / "s", frames=4)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    assert bpy.ops.gavatar.reenact(filepath=str(root), source_fps=25.0) == {"FINISHED"}
    paths = fcurve_paths(parts.armature)
    assert {
        'pose.bones["jaw"].rotation_quaternion',
        'pose.bones["left_eye_smplhf"].rotation_quaternion',
    } <= paths
    assert 'pose.bones["pelvis"].rotation_quaternion' not in paths
    assert any("Exp000" in p for p in fcurve_paths(parts.mesh.data.shape_keys))


def test_bad_sequences_change_nothing(flame_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty"
    empty.mkdir()
    before = data_counts()
    with pytest.raises(RuntimeError, match="holds no FLAME parameter files"):
        bpy.ops.gavatar.reenact(filepath=str(empty))
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.gavatar.reenact(filepath=str(tmp_path / "missing.npz"))
    path = tmp_path / "only_eyes.npz"
    np.savez(path, eyes_pose=np.zeros((3, 6)), fps=25.0)
    with pytest.raises(RuntimeError, match="none of the chosen parameters"):
        bpy.ops.gavatar.reenact(filepath=str(path), use_eyes=False)
    assert data_counts() == before
    assert (
        active_parts().armature.animation_data is None
        or active_parts().armature.animation_data.action is None
    )
