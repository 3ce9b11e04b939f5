"""Training-range statistics and the range guard's maths (bpy-free), the avatar file's version 2
header (old files stay readable, broken statistics are refused), and the trainer writing them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.avatar import range_stats
from core.avatar.avatar_file import FORMAT_VERSION, AvatarFileError, read_avatar, write_avatar
from core.avatar.range_stats import STAT_ROWS, RangeStats, RangeStatsError, compute_stats, guard
from core.rig.lbs import axis_angle_to_matrix
from tests.core.avatar.test_avatar_file import make_avatar


def _training(seed: int = 0, frames: int = 40, e: int = 6, j: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.5, (frames, e)), rng.normal(0.0, 0.2, (frames, j, 3))


def test_statistics_per_coefficient() -> None:
    expr, pose = _training()
    stats = compute_stats(expr, pose)
    assert stats.frames == 40
    assert np.allclose(stats.row("expression", "min"), expr.min(0))
    assert np.allclose(stats.row("expression", "std"), expr.std(0))
    assert np.allclose(stats.row("pose", "p99"), np.percentile(pose.reshape(40, -1), 99, axis=0))
    features = (axis_angle_to_matrix(pose)[:, 1:] - np.eye(3)).reshape(40, -1)
    assert stats.pose_features.shape == (len(STAT_ROWS), 36)
    assert np.allclose(stats.row("pose_features", "max"), features.max(0))
    rows = stats.features(4, 36)
    assert rows.shape == (6, 40) and np.allclose(rows[:, :4], stats.expression[:, :4])
    with pytest.raises(RangeStatsError, match="cover 6 expression"):
        stats.features(7, 36)
    again = RangeStats.from_header(json.loads(json.dumps(stats.to_header())))
    assert again.frames == 40
    assert np.allclose(again.expression, stats.expression, rtol=1e-6, atol=1e-7)  # float32 digits
    with pytest.raises(RangeStatsError, match="no training frames"):
        compute_stats(np.zeros((0, 3)), np.zeros((0, 5, 3)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("pose"), "lacks a numeric 'pose'"),
        (lambda d: d.update(rows=["min", "max"]), "rows are"),
        (lambda d: d["expression"].pop(), "has shape"),
        (lambda d: d["expression"][0].__setitem__(0, float("nan")), "NaN"),
        (lambda d: d["expression"][0].__setitem__(0, 99.0), "max below its min"),
    ],
)
def test_malformed_statistics(change, message: str) -> None:  # type: ignore[no-untyped-def]
    data = compute_stats(*_training()).to_header()
    change(data)
    with pytest.raises(RangeStatsError, match=message):
        RangeStats.from_header(data)


def test_guard_leaves_the_range_alone_and_brings_outliers_back() -> None:
    expr, pose = _training(1)
    stats = compute_stats(expr, pose)
    rows = stats.features(6, 36)
    low, high = rows[0], rows[1]
    rng = np.random.default_rng(2)
    inside = low + rng.uniform(0, 1, low.shape) * (high - low)
    for mode in ("OFF", "CLAMP", "SOFT"):
        assert np.array_equal(guard(inside, rows, mode), inside)
    low, high = range_stats.bounds(rows)  # the training range, holding 0, with a 1e-5 slack
    outside = inside.copy()
    outside[0] = high[0] + 5 * (high[0] - low[0])
    outside[7] = low[7] - 0.01 * (high[7] - low[7])
    clamped = guard(outside, rows, "CLAMP")
    assert clamped[0] == high[0] and clamped[7] == low[7]
    assert np.array_equal(np.delete(clamped, [0, 7]), np.delete(outside, [0, 7]))
    soft = guard(outside, rows, "SOFT", softness=0.2)
    width = high - low
    assert high[0] < soft[0] <= high[0] + 0.2 * width[0]  # past the edge by at most the softness
    assert soft[0] == pytest.approx(high[0] + 0.2 * width[0], rel=1e-3)  # far out: at the asymptote
    assert soft[7] == pytest.approx(outside[7], abs=1e-4 * width[7])  # just past: slope 1 at the edge
    with pytest.raises(ValueError, match="unknown guard mode"):
        guard(inside, rows, "HARD")


def test_soft_clamp_is_continuous_and_monotone() -> None:
    low, high = np.array([-1.0]), np.array([2.0])
    x = np.linspace(-10, 10, 4001)
    y = np.array([range_stats.soft_clamp(np.array([v]), low, high, 0.25)[0] for v in x])
    assert np.all(np.diff(y) >= 0) and np.abs(np.diff(y)).max() < 0.01
    assert y.min() > -1.75 and y.max() < 2.75
    margin_low, margin_high = range_stats.bounds(np.stack([low, high, low, low, low, high]), 0.1)
    assert margin_low[0] == pytest.approx(-1.3, abs=2e-5) and margin_high[0] == pytest.approx(2.3, abs=2e-5)


def test_unused_coefficients_are_held_and_zero_is_always_in_range() -> None:
    stats = compute_stats(np.zeros((5, 2)) + [0.0, 0.3], np.zeros((5, 2, 3)))
    rows = stats.features(2, 9)
    assert np.allclose(
        guard(np.array([1.0, 0.2] + [0.5] * 9), rows, "SOFT"), [0.0, 0.2] + [0.0] * 9, atol=1e-4
    )
    assert np.allclose(
        guard(np.array([0.0, -1.0]), rows[:, :2], "CLAMP"), [0.0, 0.0], atol=1e-4
    )  # range [0, 0.3]
    # A joint that always turned a little: R - I is never 0 on its diagonal, yet the rest pose is fine.
    turned = compute_stats(np.zeros((4, 1)), np.tile([[[0.0, 0, 0], [0.2, 0, 0]]], (4, 1, 1)))
    rest = np.zeros(10)
    assert np.array_equal(guard(rest, turned.features(1, 9), "CLAMP"), rest)
    assert range_stats.report(rest, turned.features(1, 9)).outside == 0


def test_report() -> None:
    rows = np.array([[0.0, -1.0], [1.0, 1.0], [0.5, 0.0], [0.25, 0.5], [0.0, -1.0], [1.0, 1.0]])
    rep = range_stats.report(np.array([0.5, 0.0]), rows)
    assert (rep.outside, rep.max_z, rep.max_excess) == (0, 0.0, 0.0)
    rep = range_stats.report(np.array([2.0, 0.0]), rows)
    assert rep.outside == 1 and rep.worst == 0 and rep.max_z == pytest.approx(6.0)
    assert rep.max_excess == pytest.approx(1.0, abs=1e-4)  # one range width past the edge
    assert range_stats.report(np.array([1.05, 0.0]), rows, margin=0.1).outside == 0
    far = range_stats.furthest_outside(np.array([1.5, -5.0]), rows)
    assert [i for i, *_ in far] == [1, 0] and far[0][1] == -5.0
    assert range_stats.furthest_outside(np.array([0.5, 0.0]), rows) == []


def test_avatar_file_version_2_carries_the_statistics(tmp_path: Path) -> None:
    avatar, _ = make_avatar()
    assert avatar.dynamics is not None
    e, p = avatar.dynamics.num_expression, avatar.dynamics.num_pose_features
    rng = np.random.default_rng(0)
    stats = compute_stats(rng.normal(size=(12, e)), rng.normal(0, 0.2, (12, -(-p // 9) + 1, 3)))
    avatar.header["range_statistics"] = stats.to_header()
    path = tmp_path / "a.gavatar"
    write_avatar(path, avatar)
    back = read_avatar(path)
    assert back.header["version"] == FORMAT_VERSION >= 2
    assert back.range_stats is not None and np.allclose(
        back.range_stats.pose_features, stats.pose_features, atol=1e-6
    )


def _rewrite_header(path: Path, out: Path, change) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "header.json":
                header = json.loads(data)
                change(header)
                data = json.dumps(header).encode()
            dst.writestr(info.filename, data)


def test_version_1_files_read_without_a_guard_and_broken_statistics_are_refused(tmp_path: Path) -> None:
    avatar, _ = make_avatar()
    path = tmp_path / "a.gavatar"
    write_avatar(path, avatar)
    old = tmp_path / "v1.gavatar"
    _rewrite_header(path, old, lambda h: h.update(version=1))
    assert read_avatar(old).range_stats is None
    broken = tmp_path / "broken.gavatar"
    _rewrite_header(path, broken, lambda h: h.update(range_statistics={"rows": list(STAT_ROWS), "frames": 3}))
    with pytest.raises(AvatarFileError, match="unusable range_statistics lacks"):
        read_avatar(broken)
    assert avatar.dynamics is not None
    small = compute_stats(np.zeros((3, 1)), np.zeros((3, 2, 3))).to_header()  # fewer than the dynamics use
    short = tmp_path / "short.gavatar"
    _rewrite_header(path, short, lambda h: h.update(range_statistics=small))
    with pytest.raises(AvatarFileError, match="do not fit its dynamics"):
        read_avatar(short)
    newer = tmp_path / "newer.gavatar"
    _rewrite_header(path, newer, lambda h: h.update(version=FORMAT_VERSION + 1))
    with pytest.raises(AvatarFileError, match="newer than this version reads"):
        read_avatar(newer)


def test_export_takes_the_statistics_of_the_refined_tracking() -> None:
    pytest.importorskip("torch")
    from training.files.export import training_range

    expr, pose = _training(3)
    header = training_range({"expression": expr.astype(np.float32), "pose": pose.astype(np.float32)})
    assert RangeStats.from_header(header).frames == 40
    assert np.allclose(header["expression"][1], expr.max(0), atol=1e-6)


@pytest.mark.slow
def test_trainer_writes_the_training_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    from tests.fixtures.trainer import write_head_dataset, write_head_model
    from tests.training.test_trainer_cli import fit_args, run_cli

    model = write_head_model(tmp_path / "model")
    data = write_head_dataset(tmp_path / "data", model, size=16)
    out = tmp_path / "run"
    code, events = run_cli(fit_args((model, data), out, "--iterations", "4"), capsys)
    assert code == 0, events[-1]
    avatar = read_avatar(out / "avatar.gavatar")
    stats = avatar.range_stats
    assert stats is not None
    tracking = np.load(out / "tracking.npz")
    expected = compute_stats(tracking["expression"], tracking["pose"])
    assert stats.frames == expected.frames == tracking["expression"].shape[0] > 1
    for group in range_stats.GROUPS:
        assert np.allclose(getattr(stats, group), getattr(expected, group), rtol=1e-5, atol=1e-6), group
    assert (
        avatar.dynamics is None
        or stats.features(avatar.dynamics.num_expression, avatar.dynamics.num_pose_features).size
    )
