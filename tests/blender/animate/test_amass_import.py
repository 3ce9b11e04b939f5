"""gavatar.import_amass: AMASS clips onto SMPL-X rigs in Blender (real bpy).

Generated model files and clips check the world frame to the digit (the rig reproduces the clip's
own world when the clip's body model is known); the real AMASS sample (../shared/real) checks a
real clip against its mocap markers; broken files change nothing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.motion import amass
from core.rig import lbs, loaders
from core.rotations import matrix_to_axis_angle
from tests.fixtures.animate import (
    active_parts,
    bone_head_world,
    data_counts,
    evaluated_mesh_world,
    module,
    open_blend,
    preferences,
    standin_smplx_blend,  # noqa: F401  (fixture)
)
from tests.fixtures.files import rig_files
from tests.fixtures.real_data import real_file
from tests.fixtures.standin import standin_dir  # noqa: F401  (fixture)

REAL_CLIP = real_file("amass_sample_smplh.npz")
TOLERANCE = 1e-4  # metres


def _clip(path: Path, layout: str = "SMPLX", frames: int = 21, fps: float = 60.0, seed: int = 2) -> Path:
    """A smooth generated clip: joints swing, the root turns upright (Z-up world) and walks."""
    rng = np.random.default_rng(seed)
    width = 165 if layout == "SMPLX" else 156
    t = np.linspace(0.0, 1.0, frames)[:, None]
    poses = rng.normal(scale=0.25, size=(1, width)) + rng.normal(scale=0.25, size=(1, width)) * np.sin(3 * t)
    # AMASS roots turn the Y-up body upright: about +90 degrees around x, plus a heading.
    poses[:, 0:3] = matrix_to_axis_angle(
        lbs.axis_angle_to_matrix(np.stack([np.zeros(frames), np.zeros(frames), 0.8 * t[:, 0]], 1))
        @ lbs.axis_angle_to_matrix(np.array([np.pi / 2, 0.0, 0.0]))
    )
    trans = np.concatenate([0.6 * t, -0.3 * t, 0.9 + 0.05 * np.sin(6 * t)], axis=1)
    np.savez(
        path,
        poses=poses,
        trans=trans,
        betas=rng.normal(size=10),
        gender=np.array("neutral"),
        mocap_frame_rate=np.array(fps),
    )
    return path


@pytest.fixture
def generated_rig(addon: str, clean_scene: None, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A rig from a generated SMPL-X file, the same file as the AMASS body model (exact world)."""
    model_file = rig_files.smplx_npz(
        tmp_path, num_vertices=150, num_faces=200, num_shape=10, num_expression=10
    )
    body_models = tmp_path / "body_models"
    (body_models / "smplx" / "neutral").mkdir(parents=True)
    shutil.copy(model_file, body_models / "smplx" / "neutral" / "model.npz")
    preferences().amass_model_dir = str(body_models)
    bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(model_file))
    yield active_parts(), loaders.load_model(model_file, family="SMPLX")
    preferences().amass_model_dir = ""


def test_clip_world_is_reproduced_exactly(generated_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts, model = generated_rig
    clip_path = _clip(tmp_path / "walk.npz")
    raw = np.load(clip_path)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    # The rig object may sit anywhere: the clip plays relative to it.
    parts.armature.location = (1.0, 2.0, 0.5)
    result = bpy.ops.gavatar.import_amass(filepath=str(clip_path), frame_start=5, use_betas=True)
    assert result == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end) == (5, 15)  # 21 frames at 60 fps -> 11 at 30
    offset = np.array([1.0, 2.0, 0.5])
    worst = 0.0
    for k in range(11):
        scene.frame_set(5 + k)
        pose = raw["poses"][2 * k].reshape(55, 3)
        expected = lbs.forward(model, betas=raw["betas"], pose=pose, transl=raw["trans"][2 * k]).vertices
        worst = max(worst, float(np.abs(evaluated_mesh_world(parts.mesh) - offset - expected).max()))
    print(f"clip world reproduced within {worst:.2e} m")
    assert worst < TOLERANCE


def test_smplh_clip_maps_onto_smplx_joints(generated_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts, _model = generated_rig
    clip_path = _clip(tmp_path / "smplh.npz", layout="SMPLH", frames=9, fps=30.0)
    raw = np.load(clip_path)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_amass(filepath=str(clip_path), frame_start=1) == {"FINISHED"}
    pose_io = module("blender.rig.pose_io")
    names = parts.joint_names
    for k in (0, 4, 8):
        scene.frame_set(1 + k)
        read = pose_io.read_pose(parts)["pose"]
        body_hands = [names.index(n) for n in amass.SMPLH_JOINT_NAMES[1:]]
        got = lbs.axis_angle_to_matrix(read[body_hands])
        want = lbs.axis_angle_to_matrix(raw["poses"][k, 3:].reshape(51, 3))
        assert np.abs(got - want).max() < 1e-4
        for face in ("jaw", "left_eye_smplhf", "right_eye_smplhf"):
            assert np.linalg.norm(read[names.index(face)]) < 1e-6


def test_frame_rates_ranges_and_actions(generated_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts, _model = generated_rig
    clip_path = _clip(tmp_path / "clip.npz", frames=61, fps=60.0)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    first = bpy.data.actions.new("user animation")
    parts.armature.animation_data_create().action = first
    # 24 fps from 60: ratio 2.5, not an integer decimation. Source frames 10..50 -> 41 frames, 0.667 s.
    assert bpy.ops.gavatar.import_amass(
        filepath=str(clip_path), clip_start=10, clip_end=50, frame_start=100
    ) == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end) == (100, 116)
    action = parts.armature.animation_data.action
    assert action.name == "clip" and first.use_fake_user  # the user's action is kept in the file
    # Keep the clip's rate: the scene takes 60 fps and every source frame becomes a key.
    assert bpy.ops.gavatar.import_amass(filepath=str(clip_path), fps_mode="SOURCE", frame_start=1) == {
        "FINISHED"
    }
    assert scene.render.fps / scene.render.fps_base == pytest.approx(60.0)
    assert (scene.frame_start, scene.frame_end) == (1, 61)


def test_in_place_and_ground(generated_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts, _model = generated_rig
    clip_path = _clip(tmp_path / "clip.npz", frames=31, fps=30.0)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_amass(filepath=str(clip_path), in_place=True) == {"FINISHED"}
    for frame in range(1, 32, 5):
        scene.frame_set(frame)
        assert np.abs(bone_head_world(parts.armature, "pelvis")[:2]).max() < 1e-5
    assert bpy.ops.gavatar.import_amass(filepath=str(clip_path), ground=True) == {"FINISHED"}
    feet = module("blender.animate.amass_import")._foot_skin(parts).index
    assert feet.size > 0
    lowest = []
    for frame in range(1, 32):
        scene.frame_set(frame)
        lowest.append(evaluated_mesh_world(parts.mesh)[feet, 2].min())
    print(f"lowest foot vertex over the clip: {min(lowest):.2e} m")
    assert abs(min(lowest)) < 1e-4


def test_new_rig_is_made_when_the_scene_has_none(addon: str, clean_scene: None, tmp_path: Path) -> None:
    model_file = rig_files.smplx_npz(
        tmp_path, num_vertices=120, num_faces=150, num_shape=10, num_expression=10
    )
    preferences().smplx_model_path = str(model_file)
    try:
        assert bpy.ops.gavatar.import_amass(filepath=str(_clip(tmp_path / "c.npz"))) == {"FINISHED"}
    finally:
        preferences().smplx_model_path = ""
    parts = active_parts()
    assert parts is not None and parts.family == "SMPLX"
    assert parts.armature.animation_data.action.name == "c"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"garbage"), "not a readable .npz"),
        (lambda p: np.savez(p, poses=np.zeros((4, 72)), trans=np.zeros((4, 3)), fps=30.0), "(T,156)"),
        (lambda p: np.savez(p, poses=np.zeros((4, 165)), trans=np.zeros((4, 3))), "no frame rate"),
        (lambda p: np.savez(p, poses=np.full((4, 156), np.nan), trans=np.zeros((4, 3)), fps=30.0), "NaN"),
        (lambda p: None, "does not exist"),
    ],
)
def test_bad_files_change_nothing(generated_rig, tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.npz"
    make(path)
    scene = bpy.context.scene
    before = (data_counts(), scene.render.fps, scene.frame_start, scene.frame_end)
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bpy.ops.gavatar.import_amass(filepath=str(path), fps_mode="SOURCE")
    assert (data_counts(), scene.render.fps, scene.frame_start, scene.frame_end) == before


def test_wrong_targets_are_refused(generated_rig, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip_path = _clip(tmp_path / "c.npz")
    before = data_counts()
    with pytest.raises(RuntimeError, match="no object named"):
        bpy.ops.gavatar.import_amass(filepath=str(clip_path), target="Nobody")
    bpy.ops.object.empty_add()
    with pytest.raises(RuntimeError, match="not part of an avatar rig"):
        bpy.ops.gavatar.import_amass(filepath=str(clip_path), target=bpy.context.active_object.name)
    flame = rig_files.flame_2023_pickle(tmp_path, num_vertices=60, num_faces=80)
    bpy.ops.gavatar.add_rig(family="FLAME", model_path=str(flame))
    with pytest.raises(RuntimeError, match="FLAME rig; AMASS clips drive"):
        bpy.ops.gavatar.import_amass(filepath=str(clip_path), target=active_parts().armature.name)
    with pytest.raises(RuntimeError, match=r"clip's 0\.\.20"):
        bpy.ops.gavatar.import_amass(filepath=str(clip_path), clip_start=30)
    assert data_counts()["actions"] == before["actions"]


@pytest.mark.skipif(REAL_CLIP is None, reason="../shared/real is absent")
def test_real_clip_on_the_standin_rig(standin_smplx_blend: Path) -> None:  # noqa: F811
    assert REAL_CLIP is not None
    open_blend(standin_smplx_blend)
    parts = active_parts()
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    start = time.perf_counter()
    assert bpy.ops.gavatar.import_amass(filepath=str(REAL_CLIP)) == {"FINISHED"}
    seconds = time.perf_counter() - start
    assert (scene.frame_start, scene.frame_end) == (1, 151)
    markers = np.load(REAL_CLIP)["marker_data"]  # (601,85,3), NaN where a marker was lost
    margins = []
    for k in range(151):
        scene.frame_set(1 + k)
        pelvis = bone_head_world(parts.armature, "pelvis")
        head = bone_head_world(parts.armature, "head")
        low, high = np.nanmin(markers[4 * k], axis=0), np.nanmax(markers[4 * k], axis=0)
        margins.append(min((pelvis - low).min(), (high - pelvis).min()))
        assert np.all(pelvis > low) and np.all(pelvis < high), (
            f"frame {k}: pelvis {pelvis} outside the markers"
        )
        assert head[2] > pelvis[2] + 0.3, f"frame {k}: head {head} not above pelvis {pelvis}"
    print(f"real clip: imported in {seconds:.2f} s; pelvis inside the marker box by >= {min(margins):.3f} m")
