"""FLAME parameter sequences (bpy-free): flame_param folders, single-file sequences, resampling, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.motion import flame_sequence
from core.motion.errors import MotionFileError
from core.rotations import axis_angle_to_matrix


def write_flame_param_folder(root: Path, frames: int = 8, seed: int = 0, expr: int = 100) -> Path:
    """A GaussianAvatars-style dataset folder: flame_param/{t:05d}.npz plus canonical_flame_param.npz."""
    rng = np.random.default_rng(seed)
    folder = root / "flame_param"
    folder.mkdir(parents=True)
    shape = rng.normal(size=(1, 300))
    static = rng.normal(scale=1e-3, size=(1, 40, 3))
    t = np.linspace(0, 1, frames)
    for i in range(frames):
        np.savez(
            folder / f"{i:05d}.npz",
            shape=shape,
            expr=(rng.normal(scale=0.3, size=(1, expr)) + np.sin(3 * t[i])).astype(np.float32),
            rotation=np.array([[0.1 * t[i], 0.3 * t[i], 0.0]]),
            neck_pose=np.array([[0.05, -0.1 * t[i], 0.0]]),
            jaw_pose=np.array([[0.3 * t[i], 0.0, 0.0]]),
            eyes_pose=np.array([[0.0, 0.2 * t[i], 0.0, 0.0, 0.2 * t[i], 0.0]]),
            translation=np.array([[0.01 * i, 0.0, 0.5]]),
            static_offset=static,
        )
    np.savez(root / "canonical_flame_param.npz", shape=shape, expr=np.zeros((1, expr)))
    return root


def test_reads_a_dataset_folder_and_its_flame_param_folder(tmp_path: Path) -> None:
    root = write_flame_param_folder(tmp_path / "subject", frames=12)
    for path in (root, root / "flame_param"):
        seq = flame_sequence.read_flame_sequence(path)
        assert seq.num_frames == 12 and seq.fps is None
        assert seq.frames["expr"].shape == (12, 100) and seq.frames["eyes_pose"].shape == (12, 6)
        assert seq.identity["shape"].shape == (300,) and seq.identity["static_offset"].shape == (1, 40, 3)
        assert np.allclose(seq.frames["translation"][:, 0], 0.01 * np.arange(12))  # numeric order


def test_reads_one_sequence_file_and_full_pose(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "seq.npz"
    np.savez(path, expr=rng.normal(size=(20, 50)), pose=rng.normal(scale=0.2, size=(20, 15)), fps=30.0)
    seq = flame_sequence.read_flame_sequence(path)
    assert seq.fps == 30.0 and seq.num_frames == 20
    assert seq.frames["jaw_pose"].shape == (20, 3) and seq.frames["eyes_pose"].shape == (20, 6)
    full = np.load(path)["pose"]
    assert np.array_equal(seq.frames["neck_pose"], full[:, 3:6])


def test_resampling_any_ratio_slerps_rotations(tmp_path: Path) -> None:
    frames = 26  # one second at 25 fps
    t = np.arange(frames) / 25.0
    jaw = np.stack([0.5 * t, np.zeros_like(t), np.zeros_like(t)], 1)  # 0.5 rad/s about x
    seq = flame_sequence.FlameSequence(
        frames={"jaw_pose": jaw, "expr": t[:, None] * np.ones((1, 4))}, fps=25.0
    )
    out = flame_sequence.resample_sequence(seq, 30.0)
    assert out.num_frames == 31 and out.fps == 30.0
    assert np.allclose(out.frames["jaw_pose"][:, 0], 0.5 * np.arange(31) / 30.0, atol=1e-12)
    assert np.allclose(out.frames["expr"][:, 0], np.arange(31) / 30.0, atol=1e-12)
    cut = flame_sequence.resample_sequence(seq, 10.0, start=5, end=15)
    assert cut.num_frames == 5  # 10 frames of 25 fps = 0.4 s -> 5 frames at 10 fps
    assert np.allclose(axis_angle_to_matrix(cut.frames["jaw_pose"][0]), axis_angle_to_matrix(jaw[5]))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "holds no FLAME parameter files"),
        (lambda p: p.write_bytes(b"garbage"), "not a readable .npz"),
        (lambda p: np.savez(p, shape=np.zeros(300)), "none of the FLAME per-frame parameters"),
        (lambda p: np.savez(p, jaw_pose=np.zeros((5, 4))), "expected (T, 3)"),
        (
            lambda p: np.savez(p, jaw_pose=np.zeros((5, 3)), expr=np.zeros((4, 10))),
            "4 frames of .expr. but 5",
        ),
        (lambda p: np.savez(p, jaw_pose=np.full((5, 3), np.nan)), "NaN"),
        (lambda p: np.savez(p, pose=np.zeros((5, 15)), jaw_pose=np.zeros((5, 3))), "both 'pose'"),
        (lambda p: None, "does not exist"),
    ],
)
def test_bad_inputs_get_one_clear_sentence(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "seq.npz"
    make(path)
    with pytest.raises(MotionFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        flame_sequence.read_flame_sequence(path)


def test_folder_frames_must_agree(tmp_path: Path) -> None:
    root = write_flame_param_folder(tmp_path / "s", frames=3)
    np.savez(root / "flame_param" / "00003.npz", expr=np.zeros((1, 100)))
    with pytest.raises(MotionFileError, match=r"differs from '00000\.npz'"):
        flame_sequence.read_flame_sequence(root)
    seq = flame_sequence.FlameSequence(frames={"jaw_pose": np.zeros((3, 3))})
    with pytest.raises(MotionFileError, match="no frame rate"):
        flame_sequence.resample_sequence(seq, 30.0)
