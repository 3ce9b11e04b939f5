"""ARKit weight files (bpy-free): Live Link Face CSV, plain CSV, MediaPipe JSON, resampling, mapping
tables and their least-squares fits, and broken files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.motion import arkit, arkit_mapping
from core.motion.arkit import ARKIT_NAMES, parse_timecode, read_arkit
from core.motion.errors import MotionFileError
from core.rig.lbs import axis_angle_to_matrix
from tests.fixtures.files.arkit_files import (
    smooth_weights,
    write_live_link_csv,
    write_mediapipe_json,
    write_plain_csv,
)


def test_the_52_names_are_arkits() -> None:
    assert len(ARKIT_NAMES) == 52 == len(set(ARKIT_NAMES))
    assert arkit.canonical_name("EyeBlinkLeft") == "eyeBlinkLeft"
    assert arkit.canonical_name("eye_blink_left") == "eyeBlinkLeft"
    assert arkit.canonical_name("JAWOPEN") == "jawOpen"
    assert arkit.canonical_name("_neutral") is None
    assert arkit.canonical_name("HeadYaw") is None


def test_timecodes() -> None:
    code = parse_timecode("12:34:56:07.500")
    assert code.to_seconds(60.0) == pytest.approx(12 * 3600 + 34 * 60 + 56 + 7.5 / 60)
    assert parse_timecode("00:00:01;29").frame == 29
    for bad in ("12:34:56", "12:61:00:00", "aa:bb:cc:dd", "1:2:3:4.x"):
        with pytest.raises(ValueError):
            parse_timecode(bad)


def test_live_link_csv_with_rotations(tmp_path: Path) -> None:
    weights = smooth_weights(150, seed=1)
    rot = np.zeros((150, 9))
    rot[:, 0] = np.linspace(-0.3, 0.3, 150)  # head yaw
    rot[:, 4] = 0.1  # left eye pitch
    path = write_live_link_csv(tmp_path / "take.csv", weights, rate=60.0, rotations=rot)
    clip = read_arkit(path)
    assert clip.names == ARKIT_NAMES
    assert clip.fps == 60.0  # inferred from the timecodes' frame field
    assert clip.num_frames == 150
    assert np.allclose(clip.times, np.arange(150) / 60.0, atol=1e-6)
    assert np.allclose(clip.weights, weights, atol=1e-6)
    assert set(clip.rotations) == {"head", "left_eye", "right_eye"}
    assert np.allclose(clip.rotations["head"][:, 0], rot[:, 0], atol=1e-6)
    assert np.allclose(clip.weight("JawOpen"), weights[:, ARKIT_NAMES.index("jawOpen")], atol=1e-6)
    degrees = read_arkit(path, rotation_unit="DEGREES")
    assert np.allclose(degrees.rotations["left_eye"][:, 1], np.deg2rad(0.1), atol=1e-8)


def test_timecode_rate_is_inferred_or_given(tmp_path: Path) -> None:
    weights = smooth_weights(80, seed=2)
    path = write_live_link_csv(tmp_path / "take30.csv", weights, rate=30.0)
    clip = read_arkit(path)
    assert clip.fps == 30.0 and clip.duration == pytest.approx(79 / 30.0, abs=1e-6)
    short = write_live_link_csv(tmp_path / "short.csv", weights[:10], rate=30.0)
    guessed = read_arkit(short)  # under a second: the frame field never wrapped
    assert guessed.fps == arkit.DEFAULT_FPS and any("under a second" in n for n in guessed.notes)
    given = read_arkit(short, timecode_rate=30.0)
    assert given.duration == pytest.approx(9 / 30.0, abs=1e-6)


def test_dropped_and_repeated_frames(tmp_path: Path) -> None:
    weights = smooth_weights(61, seed=3)
    times = np.arange(61) / 60.0
    times[10] = times[9]  # a repeated timecode
    keep = np.ones(61, dtype=bool)
    keep[30:33] = False  # dropped frames
    path = write_live_link_csv(tmp_path / "gaps.csv", weights[keep], rate=60.0, times=times[keep])
    clip = read_arkit(path)
    assert clip.num_frames == keep.sum() - 1
    assert any("repeated" in n for n in clip.notes)
    frames = arkit_mapping.resample_clip(clip, 60.0)
    assert frames.num_frames == 61
    # The dropped frames are interpolated from their neighbours.
    expected = weights[29] + (weights[33] - weights[29]) * 2 / 4
    assert np.allclose(frames.weights[31], expected, atol=1e-5)


def test_mediapipe_json(tmp_path: Path) -> None:
    weights = smooth_weights(20, seed=4)
    clip = read_arkit(write_mediapipe_json(tmp_path / "mp.json", weights, fps=30.0))
    assert clip.names == ARKIT_NAMES
    assert np.allclose(clip.weights, weights)
    assert np.allclose(clip.times, np.arange(20) / 30.0)


def test_plain_csv_and_json_forms(tmp_path: Path) -> None:
    names = ["jawOpen", "eyeBlinkLeft", "_neutral", "somethingElse"]
    values = np.array([[0.1, 0.2, 0.0, 5.0], [0.3, 0.4, 0.0, 6.0]])
    clip = read_arkit(write_plain_csv(tmp_path / "p.csv", names, values, time=np.array([0.0, 0.5])))
    assert clip.names == ("jawOpen", "eyeBlinkLeft")
    assert np.allclose(clip.times, [0.0, 0.5])
    assert any("somethingElse" in n for n in clip.notes)
    untimed = read_arkit(write_plain_csv(tmp_path / "u.csv", names[:2], values[:, :2]), fps=24.0)
    assert untimed.fps == 24.0 and np.allclose(untimed.times, [0.0, 1 / 24])
    doc = tmp_path / "cols.json"
    doc.write_text(
        json.dumps({"fps": 25, "names": ["JawOpen", "MouthSmileLeft"], "weights": [[0.5, 0.1]] * 3})
    )
    cols = read_arkit(doc)
    assert cols.fps == 25.0 and cols.names == ("jawOpen", "mouthSmileLeft") and cols.num_frames == 3
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"jawOpen": 0.2, "time": 0.0}, {"jawOpen": 0.4, "time": 0.1}]))
    clip = read_arkit(listed)
    assert np.allclose(clip.times, [0.0, 0.1]) and np.allclose(clip.weights[:, 0], [0.2, 0.4])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("none.csv", "a,b,c\n1,2,3\n", "no column named after an ARKit blendshape"),
        (
            "ragged.csv",
            "Timecode,JawOpen,EyeBlinkLeft\n00:00:00:00.000,0.1,0.2\n00:00:00:01.000,0.1\n",
            "row 2 has 2 values",
        ),
        ("text.csv", "JawOpen,EyeBlinkLeft\n0.1,0.2\n0.1,abc\n", "'abc' is not a number"),
        ("nan.csv", "JawOpen\n0.1\nnan\n", "not finite"),
        ("badtc.csv", "Timecode,JawOpen\n00:00:00:00.000,0.1\n00:00:0x:01.000,0.2\n", "not a timecode"),
        (
            "back.csv",
            "Timecode,JawOpen\n00:00:01:00.000,0.1\n00:00:00:05.000,0.2\n",
            "goes backwards at data row 2",
        ),
        ("empty.csv", "", "is empty"),
        ("header.csv", "JawOpen,EyeBlinkLeft\n", "has no frames"),
        ("twice.csv", "JawOpen,jaw_open\n0.1,0.2\n", "two columns for jawOpen"),
        ("half.csv", "JawOpen,HeadYaw,HeadPitch\n0.1,0,0\n", "no HeadRoll"),
        ("bad.json", "{not json", "not valid JSON"),
        ("shape.json", '{"something": 3}', "not an ARKit weight file"),
        (
            "keys.json",
            '[{"jawOpen": 0.1}, {"jawOpen": 0.2, "mouthClose": 0.1}]',
            "frame 1 names other weights",
        ),
        ("str.json", '[{"jawOpen": "0.1"}]', "is not a number"),
        ("cat.json", '[{"blendshapes": [{"score": 0.1}]}]', "without categoryName"),
        ("rows.json", '{"names": ["jawOpen"], "weights": [[0.1, 0.2]]}', "weights row 0 has 2 values"),
    ],
)
def test_broken_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MotionFileError, match=message):
        read_arkit(path)


def test_timecode_frame_beyond_the_rate(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("Timecode,JawOpen\n00:00:00:00.000,0.1\n00:00:01:70.000,0.2\n", encoding="utf-8")
    with pytest.raises(MotionFileError, match="timecode frame 70 at a rate of 60 fps"):
        read_arkit(path, timecode_rate=60.0)
    assert read_arkit(path).fps == 72.0  # inferred: the smallest standard rate above frame 70


def test_missing_file_and_binary(tmp_path: Path) -> None:
    with pytest.raises(MotionFileError, match="does not exist"):
        read_arkit(tmp_path / "nope.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81\x92" * 20)
    with pytest.raises(MotionFileError, match="not a text"):
        read_arkit(binary)


def test_resampling_like_amass(tmp_path: Path) -> None:
    weights = smooth_weights(121, seed=5)
    rot = np.zeros((121, 9))
    rot[:, 0] = np.linspace(0.0, 0.6, 121)
    clip = read_arkit(write_live_link_csv(tmp_path / "t.csv", weights, rate=60.0, rotations=rot))
    frames = arkit_mapping.resample_clip(clip, 24.0)
    assert frames.num_frames == 49  # 2 s at 24 fps
    # Frame k sits at source position 2.5 k: linear between rows.
    k = 3
    lo, frac = int(np.floor(2.5 * k)), 2.5 * k - np.floor(2.5 * k)
    assert np.allclose(frames.weights[k], weights[lo] * (1 - frac) + weights[lo + 1] * frac, atol=1e-5)
    yaw = frames.rotations["head"][:, 1]  # yaw is a rotation about +Y
    assert np.allclose(yaw, np.linspace(0.0, 0.6, 49), atol=1e-5)
    cut = arkit_mapping.resample_clip(clip, 30.0, start=0.5, end=1.0)
    assert cut.num_frames == 16
    with pytest.raises(MotionFileError, match="outside the clip"):
        arkit_mapping.resample_clip(clip, 30.0, start=5.0)


def test_euler_order() -> None:
    ypr = np.array([0.3, -0.2, 0.1])
    aa = arkit_mapping.euler_to_axis_angle(ypr)
    ry = axis_angle_to_matrix(np.array([0.0, 0.3, 0.0]))
    rx = axis_angle_to_matrix(np.array([-0.2, 0.0, 0.0]))
    rz = axis_angle_to_matrix(np.array([0.0, 0.0, 0.1]))
    assert np.allclose(axis_angle_to_matrix(aa), ry @ rx @ rz, atol=1e-12)


def test_name_map_and_table() -> None:
    rig_names = ["browDownLeft", "JawOpen", "custom", "eyeBlinkLeft"]
    assert arkit_mapping.name_map(rig_names) == {"browDownLeft": 0, "jawOpen": 1, "eyeBlinkLeft": 3}
    table = arkit_mapping.matrix_from_names(rig_names, 4)
    w = np.zeros((1, 52))
    w[0, ARKIT_NAMES.index("jawOpen")] = 0.7
    assert np.allclose(w @ table, [[0.0, 0.7, 0.0, 0.0]])


def test_fit_from_shapes_recovers_an_exact_table() -> None:
    rng = np.random.default_rng(0)
    vertices, e = 300, 20
    target = rng.normal(size=(vertices, 3, e))
    true = rng.normal(size=(52, e))
    source = np.einsum("vde,ae->vda", target, true)  # each ARKit shape lies in the target's span
    fit = arkit_mapping.fit_from_shapes(source, list(ARKIT_NAMES), target)
    assert np.allclose(fit.matrix, true, atol=1e-9) and fit.worst < 1e-9
    # A shape outside the span is fitted as well as least squares allows: its residual is orthogonal.
    source[:, :, 5] += rng.normal(size=(vertices, 3))
    fit = arkit_mapping.fit_from_shapes(source, list(ARKIT_NAMES), target)
    a = target.reshape(-1, e)
    resid = a @ fit.matrix[5] - source[:, :, 5].reshape(-1)
    assert np.abs(a.T @ resid).max() < 1e-8 and fit.relative_residual[5] > 0.1
    damped = arkit_mapping.fit_from_shapes(source, list(ARKIT_NAMES), target, ridge=0.1)
    assert np.linalg.norm(damped.matrix) < np.linalg.norm(fit.matrix)
    with pytest.raises(ValueError, match="same vertices"):
        arkit_mapping.fit_from_shapes(source[:10], list(ARKIT_NAMES), target)
    with pytest.raises(ValueError, match="no expression named"):
        arkit_mapping.fit_from_shapes(source, [f"e{i}" for i in range(52)], target)


def test_fit_from_pairs() -> None:
    rng = np.random.default_rng(1)
    true = np.zeros((52, 10))
    true[:30] = rng.normal(size=(30, 10))
    w = np.zeros((200, 52))
    w[:, :30] = rng.uniform(0, 1, size=(200, 30))
    fit = arkit_mapping.fit_from_pairs(w, w @ true)
    assert np.allclose(fit.matrix, true, atol=1e-9)
    assert fit.fitted == ARKIT_NAMES[:30]
