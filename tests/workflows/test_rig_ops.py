"""Rig operators on model files in the real formats: add_rig, update_rig_joints, apply/export_params."""

from __future__ import annotations

import importlib
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.rig import lbs, loaders
from core.rig import params as rig_params
from tests.blender.test_rig import TOLERANCE, evaluated_world, forward_world
from tests.fixtures.files import rig_files


def _created() -> dict[str, int]:
    return {
        kind: len(getattr(bpy.data, kind))
        for kind in ("objects", "meshes", "armatures", "collections", "actions")
    }


def _parts(addon: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"{addon}.blender.rig.parts").active_rig(bpy.context)


@pytest.fixture
def model_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "FLAME": rig_files.flame_2020_pickle(tmp_path, num_vertices=80, num_faces=100),
        "SMPLX": rig_files.smplx_npz(
            tmp_path, num_vertices=150, num_faces=200, num_shape=10, num_expression=10
        ),
    }


@pytest.mark.parametrize("family", ["FLAME", "SMPLX"])
def test_add_rig_from_model_file(addon: str, clean_scene: None, model_files, family: str) -> None:
    path = model_files[family]
    assert bpy.ops.gavatar.add_rig(family=family, model_path=str(path), num_shape=7) == {"FINISHED"}
    parts = _parts(addon)
    assert parts is not None and parts.armature is bpy.context.active_object
    model = loaders.load_model(path)
    info = parts.info
    assert info.family == family and info.model_path == str(path)
    assert info.model_name == model.source_name and info.model_sha256 == model.source_sha256
    assert info.num_shape == 7 and info.num_expression == model.num_expression
    assert info.model_num_shape == model.num_shape
    assert len(parts.mesh.data.vertices) == model.num_vertices
    assert {b.name for b in parts.armature.data.bones if not b.use_deform} == set(model.joint_names)
    # The rig built from the file poses exactly like the loaded model.
    rng = np.random.default_rng(0)
    inputs = {
        "betas": rng.normal(size=7),
        "expression": rng.normal(size=model.num_expression),
        "pose": rng.normal(scale=0.5, size=(model.num_joints, 3)),
        "transl": rng.normal(scale=0.2, size=3),
    }
    importlib.import_module(f"{addon}.blender.rig.pose_io").write_pose(parts, inputs)
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, model, inputs), atol=TOLERANCE)


def test_add_rig_picks_the_gendered_file_from_a_folder(addon: str, clean_scene: None, tmp_path: Path) -> None:
    rig_files.smplx_npz(
        tmp_path, "SMPLX_FEMALE.npz", num_vertices=40, num_faces=50, num_shape=10, num_expression=10
    )
    assert bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(tmp_path), gender="FEMALE") == {"FINISHED"}
    assert _parts(addon).info.model_name == "SMPLX_FEMALE.npz"


def test_add_rig_with_bad_files_creates_nothing(addon: str, clean_scene: None, tmp_path: Path) -> None:
    broken = rig_files.broken_files(tmp_path / "broken")
    before = _created()
    for what, path in broken.items():
        family = "SMPLX" if path.suffix == ".npz" and what != "smplx_as_flame" else "FLAME"
        with pytest.raises(RuntimeError) as info:
            bpy.ops.gavatar.add_rig(family=family, model_path=str(path))
        assert path.name in str(info.value), (what, str(info.value))
        assert _created() == before, what
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.gavatar.add_rig(family="FLAME", model_path=str(tmp_path / "nothing.pkl"))
    with pytest.raises(RuntimeError, match="holds no SMPLX model file"):
        bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(tmp_path))
    assert _created() == before


def test_add_rig_without_any_model_says_so(addon: str, clean_scene: None, tmp_path: Path) -> None:
    source = importlib.import_module(f"{addon}.blender.rig.model_source")
    prefs = bpy.context.preferences.addons[addon].preferences
    saved = prefs.cache_dir
    prefs.cache_dir = str(tmp_path)  # an empty cache: no stand-in built there
    try:
        if source.standin_path("FLAME", str(tmp_path)) is not None:
            pytest.skip("a stand-in exists in the empty cache folder")
        before = _created()
        with pytest.raises(RuntimeError, match="stand-in"):
            bpy.ops.gavatar.add_rig(family="FLAME", model_path="")
        assert _created() == before
    finally:
        prefs.cache_dir = saved


def _flame_sequence(rng: np.random.Generator, frames: int, num_shape: int, num_expression: int) -> dict:  # type: ignore[type-arg]
    return {
        "shape": rng.normal(size=num_shape).astype(np.float32),
        "expr": rng.normal(size=(frames, num_expression)).astype(np.float32),
        "rotation": rng.normal(scale=0.3, size=(frames, 3)).astype(np.float32),
        "neck_pose": rng.normal(scale=0.3, size=(frames, 3)).astype(np.float32),
        "jaw_pose": rng.normal(scale=0.3, size=(frames, 3)).astype(np.float32),
        "eyes_pose": rng.normal(scale=0.3, size=(frames, 6)).astype(np.float32),
        "translation": rng.normal(scale=0.1, size=(frames, 3)).astype(np.float32),
    }


def _smplx_sequence(rng: np.random.Generator, frames: int) -> dict:  # type: ignore[type-arg]
    sizes = {"global_orient": 3, "transl": 3, "body_pose": 63, "jaw_pose": 3, "leye_pose": 3, "reye_pose": 3,
             "left_hand_pose": 45, "right_hand_pose": 45, "expression": 10}  # fmt: skip
    out = {k: rng.normal(scale=0.3, size=(frames, n)).astype(np.float32) for k, n in sizes.items()}
    out["betas"] = rng.normal(size=(1, 10)).astype(np.float32)
    return out


def _assert_same_params(family: str, got: dict, want: dict) -> None:  # type: ignore[type-arg]
    for key, value in want.items():
        value = np.asarray(value, dtype=np.float64)
        have = np.asarray(got[key], dtype=np.float64)
        if key in ("shape", "betas"):
            have = have.reshape(-1)[: value.size]
            value = value.reshape(-1)
        if key.endswith("pose") or key in ("rotation", "global_orient"):
            have = lbs.axis_angle_to_matrix(have.reshape(-1, 3))
            value = lbs.axis_angle_to_matrix(value.reshape(-1, 3))
        else:
            have = have.reshape(value.shape[0], -1)[:, : value.reshape(value.shape[0], -1).shape[1]]
            value = value.reshape(value.shape[0], -1)
        np.testing.assert_allclose(have, value, atol=2e-5, err_msg=f"{family} {key}")


@pytest.mark.parametrize("family", ["FLAME", "SMPLX"])
def test_apply_and_export_sequence_round_trip(
    addon: str, clean_scene: None, model_files, tmp_path, family
) -> None:
    path = model_files[family]
    bpy.ops.gavatar.add_rig(family=family, model_path=str(path))
    parts = _parts(addon)
    model = loaders.load_model(path)
    rng = np.random.default_rng(1)
    frames = 5
    data = (
        _flame_sequence(rng, frames, model.num_shape, model.num_expression)
        if family == "FLAME"
        else _smplx_sequence(rng, frames)
    )
    source = rig_params.write_params_file(tmp_path / "in.npz", data)
    assert bpy.ops.gavatar.apply_params(filepath=str(source), keyframe=True, frame_start=20) == {"FINISHED"}
    mapped = rig_params.params_from_dict(model, data)
    scene = bpy.context.scene
    for t in (0, frames - 1):
        scene.frame_set(20 + t)
        want = forward_world(parts, model, mapped.frame(t))
        np.testing.assert_allclose(evaluated_world(parts), want, atol=TOLERANCE)
    # Setting one frame on the animated rig without keys says the animation will take over again.
    params_io = importlib.import_module(f"{addon}.blender.rig.params_io")
    report = params_io.apply_params(parts, data, frame_index=1)
    assert any("animated" in message for message in report.messages())
    out = tmp_path / "out.npz"
    result = bpy.ops.gavatar.export_params(
        filepath=str(out), use_frame_range=True, frame_start=20, frame_end=24
    )
    assert result == {"FINISHED"}
    exported = rig_params.read_params_file(out)
    assert set(data) <= set(exported)
    _assert_same_params(family, exported, data)
    if family == "FLAME":  # GaussianAvatars layout: shape (300,) for FLAME files that other tools read
        assert exported["shape"].shape == (model.num_shape,) and exported["expr"].shape == (
            frames,
            model.num_expression,
        )
    else:
        assert exported["betas"].shape == (1, model.num_shape) and exported["body_pose"].shape == (frames, 63)
    # One frame: the current one, no frame axis on per-frame keys beyond what params_to_dict writes.
    single = tmp_path / "single.npz"
    scene.frame_set(22)
    assert bpy.ops.gavatar.export_params(filepath=str(single)) == {"FINISHED"}
    one = rig_params.read_params_file(single)
    again = rig_params.params_from_dict(model, one)
    assert again.num_frames == 1 and not again.is_sequence
    np.testing.assert_allclose(
        evaluated_world(parts), forward_world(parts, model, again.frame(0)), atol=TOLERANCE
    )


def test_apply_params_single_frame_and_bad_files(
    addon: str, clean_scene: None, model_files, tmp_path
) -> None:
    bpy.ops.gavatar.add_rig(family="FLAME", model_path=str(model_files["FLAME"]))
    parts = _parts(addon)
    model = loaders.load_model(model_files["FLAME"])
    rng = np.random.default_rng(2)
    seq = _flame_sequence(rng, 3, model.num_shape, model.num_expression)
    source = rig_params.write_params_file(tmp_path / "seq.npz", seq)
    # Not keyframing a sequence sets the chosen frame only, with no animation.
    assert bpy.ops.gavatar.apply_params(filepath=str(source), frame_index=2) == {"FINISHED"}
    assert parts.armature.animation_data is None or parts.armature.animation_data.action is None
    want = forward_world(parts, model, rig_params.params_from_dict(model, seq).frame(2))
    np.testing.assert_allclose(evaluated_world(parts), want, atol=TOLERANCE)
    state = evaluated_world(parts)
    bad = {
        "garbage.npz": b"not a zip at all",
        "missing.npz": None,
    }
    (tmp_path / "garbage.npz").write_bytes(bad["garbage.npz"])
    for name in ("garbage.npz", "missing.npz"):
        with pytest.raises(RuntimeError, match=name):
            bpy.ops.gavatar.apply_params(filepath=str(tmp_path / name))
    smplx_keys = rig_params.write_params_file(tmp_path / "smplx.npz", _smplx_sequence(rng, 2))
    with pytest.raises(RuntimeError, match="holds SMPLX parameters"):
        bpy.ops.gavatar.apply_params(filepath=str(smplx_keys))
    wrong = dict(seq, jaw_pose=np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(RuntimeError, match="jaw_pose"):
        bpy.ops.gavatar.apply_params(
            filepath=str(rig_params.write_params_file(tmp_path / "wrong.npz", wrong))
        )
    np.testing.assert_allclose(evaluated_world(parts), state, atol=1e-7)  # untouched by the failures


def test_static_offset_from_flame_params(addon: str, clean_scene: None, model_files, tmp_path) -> None:
    bpy.ops.gavatar.add_rig(family="FLAME", model_path=str(model_files["FLAME"]))
    parts = _parts(addon)
    model = loaders.load_model(model_files["FLAME"])
    rng = np.random.default_rng(3)
    frame = {
        k: v[0]
        for k, v in _flame_sequence(rng, 1, model.num_shape, model.num_expression).items()
        if k != "shape"
    }
    frame = {k: v[None] for k, v in frame.items()}  # GaussianAvatars stores (1, n) per-frame arrays
    frame["shape"] = rng.normal(size=model.num_shape).astype(np.float32)
    # GaussianAvatars' FLAME carries 120 teeth vertices after the model's: their offsets are cut.
    frame["static_offset"] = rng.normal(scale=0.002, size=(1, model.num_vertices + 120, 3)).astype(np.float32)
    path = rig_params.write_params_file(tmp_path / "00000.npz", frame)
    bpy.ops.gavatar.apply_params(filepath=str(path))
    mapped = rig_params.params_from_dict(model, frame)
    np.testing.assert_allclose(
        evaluated_world(parts), forward_world(parts, model, mapped.frame(0)), atol=TOLERANCE
    )
    out = tmp_path / "out.npz"
    bpy.ops.gavatar.export_params(filepath=str(out))
    exported = rig_params.read_params_file(out)
    np.testing.assert_allclose(
        exported["static_offset"][0], frame["static_offset"][0, : model.num_vertices], atol=1e-6
    )


def test_update_rig_joints_operator(addon: str, clean_scene: None, model_files) -> None:
    bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(model_files["SMPLX"]))
    parts = _parts(addon)
    model = loaders.load_model(model_files["SMPLX"])
    betas = np.linspace(-2, 2, parts.info.num_shape)
    for i, value in enumerate(betas):
        parts.mesh.data.shape_keys.key_blocks[f"Shape{i:03d}"].value = value
    assert bpy.ops.gavatar.update_rig_joints() == {"FINISHED"}
    rest = lbs.forward(model, betas=betas).rest_joints
    heads = np.array([parts.armature.data.bones[n].head_local for n in model.joint_names])
    np.testing.assert_allclose(heads, rest, atol=1e-5)


def test_dataset_entry_points_key_sparse_frames(addon: str, clean_scene: None, model_files) -> None:
    """blender/datasets/rig.py: what the dataset import calls (add_rig(model), key_parameters)."""
    entry = importlib.import_module(f"{addon}.blender.datasets.rig")
    model = loaders.load_model(model_files["FLAME"])
    parent = bpy.data.collections.new("Dataset")
    bpy.context.scene.collection.children.link(parent)
    armature = entry.add_rig(model, collection=parent, context=bpy.context)
    parts = importlib.import_module(f"{addon}.blender.rig.parts").find_rig(armature)
    assert parts.collection.name in parent.children
    rng = np.random.default_rng(4)
    seq = _flame_sequence(rng, 3, model.num_shape + 20, model.num_expression)
    frames = {f: {k: (v if k == "shape" else v[i]) for k, v in seq.items()} for i, f in enumerate((9, 1, 5))}
    notes = entry.key_parameters(armature, frames)
    assert any("shape" in note for note in notes)  # 20 coefficients beyond the model's were dropped
    for frame, params in frames.items():
        bpy.context.scene.frame_set(frame)
        want = forward_world(parts, model, rig_params.params_from_dict(model, params).frame(0))
        np.testing.assert_allclose(evaluated_world(parts), want, atol=TOLERANCE)


def test_rig_survives_undo_and_redo(addon: str, clean_scene: None, model_files, tmp_path) -> None:
    """Everything the rig needs lives in Blender data: undo / redo restore a working rig."""
    bpy.ops.ed.undo_push(message="empty")
    bpy.ops.gavatar.add_rig(family="FLAME", model_path=str(model_files["FLAME"]))
    bpy.ops.ed.undo_push(message="add rig")
    model = loaders.load_model(model_files["FLAME"])
    frame = {
        k: v[0] for k, v in _flame_sequence(np.random.default_rng(5), 1, 300, 100).items() if k != "shape"
    }
    path = rig_params.write_params_file(tmp_path / "pose.npz", frame)
    bpy.ops.gavatar.apply_params(filepath=str(path))
    bpy.ops.ed.undo_push(message="apply")
    posed = rig_params.params_from_dict(model, frame).frame(0)
    bpy.ops.ed.undo()  # back to the rest pose
    parts = _parts(addon)
    rest = {"pose": np.zeros((model.num_joints, 3))}
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, model, rest), atol=TOLERANCE)
    bpy.ops.ed.undo()  # no rig at all
    assert not any(obj.type == "ARMATURE" for obj in bpy.data.objects)
    bpy.ops.ed.redo()
    bpy.ops.ed.redo()
    armature = next(obj for obj in bpy.data.objects if obj.type == "ARMATURE")
    parts = importlib.import_module(f"{addon}.blender.rig.parts").find_rig(armature)
    assert parts is not None and parts.info.model_sha256 == model.source_sha256
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, model, posed), atol=TOLERANCE)
    back = importlib.import_module(f"{addon}.blender.rig.pose_io").read_pose(parts)
    np.testing.assert_allclose(evaluated_world(parts), forward_world(parts, model, back), atol=TOLERANCE)
