"""AMASS reading, resampling at any frame-rate ratio, and the world-frame conversion (bpy-free)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.motion import amass
from core.motion.resample import resample_axis_angle, sample_times
from core.rig.lbs import forward
from core.rig.model import RigModel
from core.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    quaternion_to_axis_angle,
    slerp,
)
from tests.fixtures.real_data import real_file

REAL_CLIP = real_file("amass_sample_smplh.npz")


def _write_clip(path: Path, frames: int = 10, width: int = 165, fps_key: str = "mocap_frame_rate") -> Path:
    rng = np.random.default_rng(1)
    np.savez(
        path,
        poses=rng.normal(scale=0.3, size=(frames, width)),
        trans=rng.normal(size=(frames, 3)),
        betas=rng.normal(size=16),
        gender=np.array("female"),
        **{fps_key: np.array(60.0)},
    )
    return path


def test_rotation_round_trips() -> None:
    rng = np.random.default_rng(0)
    aa = rng.normal(size=(200, 3))
    aa *= (np.linspace(0.0, 3.1, 200) / np.linalg.norm(aa, axis=1))[:, None]
    assert np.allclose(matrix_to_axis_angle(axis_angle_to_matrix(aa)), aa, atol=1e-9)
    assert np.allclose(quaternion_to_axis_angle(axis_angle_to_quaternion(aa)), aa, atol=1e-9)


def test_slerp_is_constant_speed_on_the_short_arc() -> None:
    q0 = axis_angle_to_quaternion(np.array([0.0, 0.0, 0.2]))
    q1 = -axis_angle_to_quaternion(np.array([0.0, 0.0, 1.0]))  # same rotation, other hemisphere
    mids = quaternion_to_axis_angle(slerp(q0, q1, np.array([0.25, 0.5, 0.75])))
    assert np.allclose(mids[:, 2], [0.4, 0.6, 0.8], atol=1e-12)


@pytest.mark.parametrize(
    ("source", "target", "frames", "expected"),
    [(120.0, 30.0, 601, 151), (120.0, 24.0, 601, 121), (50.0, 30.0, 101, 61)],
)
def test_sample_times_any_ratio(source: float, target: float, frames: int, expected: int) -> None:
    times = sample_times(frames, source, target)
    assert len(times) == expected
    assert np.allclose(np.diff(times), source / target)
    assert times[-1] <= frames - 1 + 1e-9


def test_resampling_follows_a_constant_rotation_rate() -> None:
    # A joint spinning at 1 rad/s about z, sampled at 60 fps, resampled at 25 fps (ratio 2.4).
    t = np.arange(61) / 60.0
    spin = np.stack([np.zeros_like(t), np.zeros_like(t), t], axis=1)[:, None]
    out = resample_axis_angle(spin, sample_times(61, 60.0, 25.0))
    assert np.allclose(out[:, 0, 2], np.arange(26) / 25.0, atol=1e-9)


def test_reads_smplx_layout_and_frame_rate_keys(tmp_path: Path) -> None:
    for key in amass.FRAME_RATE_KEYS:
        clip = amass.read_amass(_write_clip(tmp_path / f"{key}.npz", fps_key=key))
        assert clip.layout == "SMPLX" and clip.fps == 60.0 and clip.gender == "female"
        assert clip.body_pose.shape == (10, 21, 3) and clip.left_hand_pose.shape == (10, 15, 3)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b"not a zip at all"), "not a readable .npz"),
        (lambda p: np.savez(p, trans=np.zeros((3, 3)), mocap_framerate=30.0), "no 'poses'"),
        (lambda p: np.savez(p, poses=np.zeros((3, 72)), trans=np.zeros((3, 3)), fps=30.0), "(T,156)"),
        (lambda p: np.savez(p, poses=np.zeros((3, 156)), trans=np.zeros((4, 3)), fps=30.0), "trans of shape"),
        (lambda p: np.savez(p, poses=np.zeros((3, 156)), trans=np.zeros((3, 3))), "no frame rate"),
        (lambda p: np.savez(p, poses=np.full((3, 156), np.nan), trans=np.zeros((3, 3)), fps=30.0), "NaN"),
    ],
)
def test_bad_files_get_one_clear_sentence(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "clip.npz"
    make(path)
    with pytest.raises(amass.MotionFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        amass.read_amass(path)


def test_rig_space_conversion_reproduces_the_clip_world() -> None:
    rng = np.random.default_rng(3)
    vertices, joints = 40, 3
    weights = rng.random((vertices, joints))
    weights /= weights.sum(1, keepdims=True)
    model = RigModel(
        family="SMPLX",
        v_template=rng.normal(size=(vertices, 3)),
        faces=np.zeros((1, 3), np.int32),
        shape_dirs=np.zeros((vertices, 3, 0)),
        expr_dirs=np.zeros((vertices, 3, 0)),
        pose_dirs=np.zeros((vertices, 3, 9 * (joints - 1))),
        joint_regressor=rng.random((joints, vertices)) / 40,
        weights=weights,
        parents=np.array([-1, 0, 1]),
        joint_names=("pelvis", "a", "b"),
    )
    pose = rng.normal(scale=0.5, size=(joints, 3))
    transl = rng.normal(size=3)
    world = forward(model, pose=pose, transl=transl).vertices  # the clip's own Z-up world
    pelvis = forward(model).rest_joints[0]
    root, new_transl = amass.to_rig_space(pose[:1], transl[None], pelvis)
    rig_pose = pose.copy()
    rig_pose[0] = root[0]
    in_rig = forward(model, pose=rig_pose, transl=new_transl[0]).vertices @ amass.Y_UP_TO_Z_UP.T
    assert np.abs(in_rig - world).max() < 1e-9


@pytest.mark.skipif(REAL_CLIP is None, reason="../shared/real is absent")
def test_real_clip_reads_and_resamples_to_151_frames_at_30_fps() -> None:
    assert REAL_CLIP is not None
    clip = amass.read_amass(REAL_CLIP)
    assert clip.layout == "SMPLH" and clip.fps == 120.0 and clip.num_frames == 601
    assert clip.gender == "male" and clip.betas.shape == (16,)
    at30 = amass.resample_clip(clip, 30.0)
    assert at30.num_frames == 151
    # Integer ratio: every 4th source frame, exactly.
    assert np.allclose(at30.transl, clip.transl[::4])
    assert np.allclose(
        axis_angle_to_matrix(at30.body_pose), axis_angle_to_matrix(clip.body_pose[::4]), atol=1e-9
    )
