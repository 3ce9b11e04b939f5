"""gavatar.export_ply_sequence (real bpy): one standard 3DGS PLY per frame of an animated avatar,
deformed as the engine draws it (dynamics included), in world or Y-up coordinates; files replaced
whole; bad requests refused."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from core.avatar.ply import read_ply
from tests.fixtures.engine import addon_module

render = pytest.importorskip("tests.engine.test_render")


@pytest.fixture
def animated(clean_scene: None):
    parts, obj, arrays, model = render.build_avatar(rank=3)
    pose_io = addon_module("blender.rig.pose_io")
    rng = np.random.default_rng(2)
    scene = bpy.context.scene
    for frame in (1, 4):
        scene.frame_set(frame)
        pose_io.write_pose(
            parts,
            {"pose": rng.normal(0.0, 0.3, (5, 3)), "expression": rng.normal(0.0, 1.5, 5)},
            keyframe=True,
        )
    parts.armature.location = (0.05, 0.1, -0.02)
    scene.frame_start, scene.frame_end = 1, 4
    for other in bpy.context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    return parts, obj, arrays, model


def _expected(parts, arrays, model, frame: int, y_up: bool):
    transform = addon_module("core.avatar.transform")
    bpy.context.scene.frame_set(frame)
    posed, matrix = render.reference_gaussians(parts, arrays, model)
    if y_up:
        matrix = transform.Y_UP_FROM_Z_UP @ matrix
    return transform.transform_gaussians(posed, matrix)


@pytest.mark.parametrize("y_up", [False, True])
def test_each_frame_is_the_deformed_avatar(animated, tmp_path: Path, y_up: bool) -> None:
    parts, _obj, arrays, model = animated
    bpy.context.scene.frame_set(2)
    out = tmp_path / "seq"
    assert bpy.ops.gavatar.export_ply_sequence(directory=str(out), frame_start=1, frame_end=4, y_up=y_up) == {
        "FINISHED"
    }
    assert bpy.context.scene.frame_current == 2  # put back
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"Avatar_{f:06d}.ply" for f in range(1, 5)]
    worst = 0.0
    for frame, path in zip(range(1, 5), files, strict=True):
        got = read_ply(path)
        want = _expected(parts, arrays, model, frame, y_up)
        assert got.sh_degree == 3 and len(got) == len(arrays.means)
        worst = max(worst, float(np.abs(got.means - want.means).max()))
        np.testing.assert_allclose(got.log_scales, want.log_scales, atol=1e-5)
        q1, q2 = got.quats / np.linalg.norm(got.quats, axis=1, keepdims=True), want.quats
        assert np.minimum(np.abs(q1 - q2), np.abs(q1 + q2)).max() < 1e-5
        np.testing.assert_allclose(got.opacity_logits, want.opacity_logits, atol=1e-5)
        np.testing.assert_allclose(got.sh, want.sh, atol=1e-5)
    print(f"PLY sequence vs the reference deformation: worst mean difference {worst:.2e}")
    assert worst < 1e-5
    # The frames really differ (an animation, not one pose four times).
    assert np.abs(read_ply(files[0]).means - read_ply(files[3]).means).max() > 1e-3


def test_existing_files_are_replaced_whole_and_a_failure_keeps_earlier_frames(animated, tmp_path) -> None:
    out = tmp_path / "seq"
    out.mkdir()
    (out / "Avatar_000001.ply").write_bytes(b"stale")
    (out / "notes.txt").write_text("keep me")
    (out / "Avatar_000003.ply").mkdir()  # frame 3 cannot be written
    with pytest.raises(RuntimeError, match="Cannot write into"):
        bpy.ops.gavatar.export_ply_sequence(directory=str(out), frame_start=1, frame_end=4)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "Avatar_000001.ply",
        "Avatar_000002.ply",
        "Avatar_000003.ply",
        "notes.txt",
    ]  # no temp files
    assert len(read_ply(out / "Avatar_000001.ply")) == 500
    assert (out / "notes.txt").read_text() == "keep me"


def test_bad_requests_are_refused(animated, tmp_path) -> None:
    with pytest.raises(RuntimeError, match=r"frame range 5\.\.2 is empty"):
        bpy.ops.gavatar.export_ply_sequence(directory=str(tmp_path), frame_start=5, frame_end=2)
    for obj in bpy.context.selected_objects:
        obj.select_set(False)
    with pytest.raises(RuntimeError, match="No selected splat objects"):
        bpy.ops.gavatar.export_ply_sequence(directory=str(tmp_path), frame_start=1, frame_end=2)
    assert list(tmp_path.iterdir()) == []
