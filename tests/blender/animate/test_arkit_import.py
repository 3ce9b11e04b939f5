"""gavatar.import_arkit and the ARKit mapping table (real bpy): by-name rigs, a least-squares table
fitted from a rig with ARKit expressions, saved with the .blend, head/eye rotations, broken files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.motion import arkit_mapping
from core.motion.arkit import ARKIT_NAMES
from core.rig.lbs import axis_angle_to_matrix
from tests.fixtures.animate import data_counts, evaluated_mesh_world, fcurve_paths, module
from tests.fixtures.blender_rig_models import make_model
from tests.fixtures.files.arkit_files import smooth_weights, write_live_link_csv, write_mediapipe_json

NAMED = ("jawOpen", "EyeBlinkLeft", "mouth_smile_left", "custom", "browInnerUp", "cheekPuff")


def _build(model, name: str = ""):  # type: ignore[no-untyped-def]
    return module("blender.rig.build").build_rig(model, name=name)


def _shape_value(parts, index: int) -> float:  # type: ignore[no-untyped-def]
    return float(parts.mesh.data.shape_keys.key_blocks[f"Exp{index:03d}"].value)


def test_live_link_csv_by_name_with_head_and_eyes(addon: str, clean_scene: None, tmp_path: Path) -> None:
    parts = _build(make_model("FLAME", seed=2, num_expression=len(NAMED), expression_names=NAMED))
    weights = smooth_weights(61, seed=7)
    rot = np.zeros((61, 9))
    rot[:, 0] = np.linspace(-0.4, 0.4, 61)  # head yaw
    rot[:, 1] = 0.1  # head pitch
    rot[:, 3] = np.linspace(0.0, 0.2, 61)  # left eye yaw
    rot[:, 7] = -0.15  # right eye pitch
    path = write_live_link_csv(tmp_path / "take.csv", weights, rate=60.0, rotations=rot)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_arkit(filepath=str(path), frame_start=5) == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end) == (5, 35)  # 1 s at 30 fps
    keys = fcurve_paths(parts.mesh.data.shape_keys)
    assert 'key_blocks["Exp003"].value' not in keys  # "custom" is no ARKit name
    assert {f'key_blocks["Exp{i:03d}"].value' for i in (0, 1, 2, 4, 5)} <= keys
    pose_io = module("blender.rig.pose_io")
    for k in (0, 11, 30):
        scene.frame_set(5 + k)
        for index, name in ((0, "jawOpen"), (1, "eyeBlinkLeft"), (2, "mouthSmileLeft"), (5, "cheekPuff")):
            assert _shape_value(parts, index) == pytest.approx(
                weights[2 * k, ARKIT_NAMES.index(name)], abs=1e-5
            )
        pose = pose_io.read_pose(parts)["pose"]
        head = arkit_mapping.euler_to_axis_angle(rot[2 * k, 0:3])
        assert np.allclose(pose[1], head, atol=1e-4)  # the neck
        assert np.allclose(pose[3], arkit_mapping.euler_to_axis_angle(rot[2 * k, 3:6]), atol=1e-4)
        assert np.allclose(pose[4], arkit_mapping.euler_to_axis_angle(rot[2 * k, 6:9]), atol=1e-4)
        assert np.allclose(pose[0], 0.0, atol=1e-6)  # the root stays
    # Relative to the first frame: the head starts straight.
    assert bpy.ops.gavatar.import_arkit(filepath=str(path), frame_start=5, head_relative=True) == {"FINISHED"}
    first = axis_angle_to_matrix(arkit_mapping.euler_to_axis_angle(rot[0, 0:3]))
    for k in (0, 20):
        scene.frame_set(5 + k)
        neck = axis_angle_to_matrix(pose_io.read_pose(parts)["pose"][1])
        expected = first.T @ axis_angle_to_matrix(arkit_mapping.euler_to_axis_angle(rot[2 * k, 0:3]))
        assert np.allclose(neck, expected, atol=1e-4)
    # Expressions only, from a MediaPipe file, into the same actions.
    json_path = write_mediapipe_json(tmp_path / "mp.json", weights[:10], fps=30.0)
    assert bpy.ops.gavatar.import_arkit(filepath=str(json_path), use_head=False, new_action=False) == {
        "FINISHED"
    }
    scene.frame_set(3)
    assert _shape_value(parts, 0) == pytest.approx(weights[2, ARKIT_NAMES.index("jawOpen")], abs=1e-5)


def test_fitted_table_drives_a_pca_rig_like_the_arkit_rig(
    addon: str, clean_scene: None, tmp_path: Path
) -> None:
    target_model = make_model("FLAME", seed=5, num_expression=10)
    rng = np.random.default_rng(3)
    true = rng.normal(scale=0.4, size=(10, 52))
    source_model = replace(
        target_model,
        expr_dirs=np.einsum("vde,ea->vda", target_model.expr_dirs, true),
        expression_names=ARKIT_NAMES,
    )
    source = _build(source_model, "ArkitHead")
    target = _build(target_model, "PcaHead")
    assert target.armature.location == source.armature.location
    bpy.context.view_layer.objects.active = target.armature
    with pytest.raises(RuntimeError, match="no expressions named after ARKit shapes"):
        bpy.ops.gavatar.import_arkit(
            filepath=str(write_mediapipe_json(tmp_path / "a.json", smooth_weights(3)))
        )
    arkit_map = module("blender.animate.arkit_map")
    arkit_map.settings(target.armature).source = source.armature
    assert bpy.ops.gavatar.arkit_map_fit(target=target.armature.name) == {"FINISHED"}
    state = arkit_map.settings(target.armature)
    assert len(state.entries) == 52 and state.fit_error < 1e-5
    table, warnings = arkit_map.read_table(target.armature, 10)
    assert not warnings and np.allclose(table, true.T, atol=1e-4)

    # Saved with the .blend: reopen, then drive both rigs with the same capture.
    blend = tmp_path / "mapped.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.open_mainfile(filepath=str(blend), load_ui=False)
    target_arm, source_arm = bpy.data.objects["PcaHead"], bpy.data.objects["ArkitHead"]
    assert arkit_map.has_table(target_arm)
    weights = smooth_weights(25, seed=8)
    path = write_live_link_csv(tmp_path / "take.csv", weights, rate=30.0)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_arkit(filepath=str(path), target=target_arm.name, timecode_rate=30.0) == {
        "FINISHED"
    }
    assert bpy.ops.gavatar.import_arkit(filepath=str(path), target=source_arm.name, timecode_rate=30.0) == {
        "FINISHED"
    }
    parts = module("blender.rig.parts")
    target, source = parts.find_rig(target_arm), parts.find_rig(source_arm)
    worst = 0.0
    for frame in (1, 9, 25):
        scene.frame_set(frame)
        worst = max(
            worst, float(np.abs(evaluated_mesh_world(target.mesh) - evaluated_mesh_world(source.mesh)).max())
        )
    print(f"PCA rig through the fitted table vs the ARKit rig: {worst:.2e} m")
    assert worst < 1e-4
    assert float(np.abs(evaluated_mesh_world(target.mesh)).max()) > 0  # a real mesh was compared

    # Hand edits: the table is plain properties.
    bpy.context.view_layer.objects.active = target_arm
    assert bpy.ops.gavatar.arkit_map_clear() == {"FINISHED"}
    assert not arkit_map.has_table(target_arm)
    assert bpy.ops.gavatar.arkit_map_fill() == {"FINISHED"}
    state = arkit_map.settings(target_arm)
    state.active_entry = ARKIT_NAMES.index("jawOpen")
    assert bpy.ops.gavatar.arkit_coefficient(action="ADD") == {"FINISHED"}
    entry = state.entries[state.active_entry]
    entry.coefficients[0].index, entry.coefficients[0].value = 4, 2.0
    table, _ = arkit_map.read_table(target_arm, 10)
    assert table[ARKIT_NAMES.index("jawOpen"), 4] == 2.0 and np.count_nonzero(table) == 1


def test_fit_needs_the_same_topology(addon: str, clean_scene: None) -> None:
    source = _build(make_model("FLAME", seed=1, num_expression=52, expression_names=ARKIT_NAMES), "Src")
    target = _build(make_model("FLAME", seed=1, vertices_per_bone=20, num_expression=10), "Tgt")
    with pytest.raises(RuntimeError, match="same mesh topology"):
        bpy.ops.gavatar.arkit_map_fit(target=target.armature.name, source=source.armature.name)


def test_broken_files_change_nothing(addon: str, clean_scene: None, tmp_path: Path) -> None:
    parts = _build(make_model("FLAME", seed=2, num_expression=len(NAMED), expression_names=NAMED))
    before = data_counts()
    cases = {
        "ragged.csv": (
            "Timecode,JawOpen,EyeBlinkLeft\n00:00:00:00.000,0.1,0.2\n00:00:00:01.000,0.1\n",
            "row 2",
        ),
        "none.csv": ("a,b\n1,2\n", "no column named after an ARKit blendshape"),
        "text.csv": ("JawOpen\n0.1\nx\n", "'x' is not a number"),
        "tc.csv": ("Timecode,JawOpen\n00:00:00:00.000,0.1\nnoon,0.2\n", "not a timecode"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.gavatar.import_arkit(filepath=str(path))
    only = tmp_path / "only.csv"
    only.write_text("mouthRollLower\n0.1\n0.2\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="maps to an expression"):
        bpy.ops.gavatar.import_arkit(filepath=str(only))
    assert data_counts() == before
    assert parts.mesh.data.shape_keys.animation_data is None or not fcurve_paths(parts.mesh.data.shape_keys)


def test_smplx_rig_takes_expressions_and_eyes(addon: str, clean_scene: None, tmp_path: Path) -> None:
    parts = _build(make_model("SMPLX", seed=1, num_expression=4, expression_names=("jawOpen", "a", "b", "c")))
    rot = np.zeros((30, 9))
    rot[:, 3] = 0.2
    path = write_live_link_csv(tmp_path / "t.csv", smooth_weights(30), rate=30.0, rotations=rot)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_arkit(filepath=str(path), timecode_rate=30.0) == {"FINISHED"}
    paths = fcurve_paths(parts.armature)
    assert {
        'pose.bones["neck"].rotation_quaternion',
        'pose.bones["left_eye_smplhf"].rotation_quaternion',
    } <= paths
    assert 'pose.bones["pelvis"].rotation_quaternion' not in paths


def test_standin_flame_takes_all_52_by_name(
    addon: str, clean_scene: None, standin_dir: Path, tmp_path: Path
) -> None:
    from core.rig import loaders

    model = loaders.load_model(standin_dir / "flame_standin.pkl", family="FLAME")
    parts = _build(model, "Standin")
    weights = smooth_weights(12, seed=9)
    path = write_mediapipe_json(tmp_path / "mp.json", weights, fps=30.0)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_arkit(filepath=str(path), target=parts.armature.name) == {"FINISHED"}
    keys = fcurve_paths(parts.mesh.data.shape_keys)
    assert len([k for k in keys if k.startswith('key_blocks["Exp')]) == 52
    scene.frame_set(6)
    names = [item.name for item in parts.info.expression_names]
    got = [_shape_value(parts, i) for i in range(52)]
    expected = [weights[5, ARKIT_NAMES.index(n)] for n in names]
    assert np.allclose(got, expected, atol=1e-5)
