"""The DyNeRF / Neural 3D Video reader on scenes written at test time (tests/fixtures/dynerf.py):
cameras from LLFF poses, time from the frame index, cam00 held out, the frame choice, videos
decoded once into a cache of images, and one clear sentence for each kind of broken scene."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.datasets import DatasetError, ReadOptions, detect_format, open_dataset
from core.datasets.formats import dynerf_videos
from core.datasets.image_io import image_size, load_image
from tests.fixtures.dynerf import HEIGHT, WIDTH, arc_cameras, poses_bounds, render, write_dynerf

pytest.importorskip("av")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dynerf(tmp_path_factory.mktemp("dynerf") / "coffee", cameras=4, frames=6).root


def _copy(scene: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "scene"
    shutil.copytree(scene, copy, ignore=shutil.ignore_patterns(dynerf_videos.CACHE_FOLDER))
    return copy


def _refusal(root: Path, **options: object) -> str:
    with pytest.raises(DatasetError) as info:
        open_dataset(root, options=ReadOptions(**options))  # type: ignore[arg-type]
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_videos_read_as_frames_with_llff_cameras_and_index_times(scene: Path) -> None:
    assert detect_format(scene) == "dynerf"
    ds = open_dataset(scene)
    assert ds.format == "dynerf" and ds.rig_status == "none" and not ds.trainable
    assert ds.camera_ids == ["cam00", "cam01", "cam02", "cam03"] and ds.timesteps == list(range(6))
    assert {f.camera_id for f in ds.split("val")} == {"cam00"}  # the dataset's held-out camera
    assert not ds.split("test") and len(ds.split("train")) == 18
    assert ds.fps == pytest.approx(30.0)
    for f in ds.frames:
        assert f.time == pytest.approx(f.timestep / 5)
    c2ws = arc_cameras(4)
    for f in ds.frames[::5]:
        c2w = c2ws[int(f.camera_id[3:])]
        np.testing.assert_allclose(f.camera.world_to_camera, np.linalg.inv(c2w), atol=1e-9)
        assert (f.camera.width, f.camera.height) == (WIDTH, HEIGHT) == image_size(f.image_path)
        np.testing.assert_allclose([f.camera.cx, f.camera.cy], [(WIDTH - 1) / 2, (HEIGHT - 1) / 2])
        # The decoded frame is the rendered one (through H.264 4:2:0).
        error = np.mean((load_image(f.image_path)[..., :3] - render(c2w, f.time) / 255.0) ** 2)
        assert -10 * np.log10(error) > 28.0
    assert ds.frames[0].image_path.is_relative_to(scene / dynerf_videos.CACHE_FOLDER)


def test_the_cache_is_decoded_once_and_again_when_a_video_changes(scene: Path, tmp_path: Path) -> None:
    root = _copy(scene, tmp_path)
    first = open_dataset(root).frames[0].image_path
    stamp = first.stat().st_mtime_ns
    assert open_dataset(root).frames[0].image_path == first and first.stat().st_mtime_ns == stamp
    os.utime(root / "cam02.mp4", ns=(1, 1))  # a replaced video
    assert open_dataset(root).frames[0].image_path.stat().st_mtime_ns != stamp
    assert not list((root / dynerf_videos.CACHE_FOLDER).glob("*.partial-*"))


def test_frame_stride_max_frames_and_downscale(scene: Path, tmp_path: Path) -> None:
    choice = ReadOptions(frame_stride=2, max_frames=2, video_downscale=2, frames_cache=str(tmp_path / "c"))
    ds = open_dataset(scene, options=choice)
    assert ds.timesteps == [0, 1] and [f.time for f in ds.frames[:2]] == [0.0, 1.0]
    assert ds.fps == pytest.approx(15.0)
    f = ds.frames[1]
    assert image_size(f.image_path) == (WIDTH // 2, HEIGHT // 2) == (f.camera.width, f.camera.height)
    assert f.camera.fx == pytest.approx(20.0) and f.camera.cx == pytest.approx((WIDTH // 2 - 1) / 2)
    assert f.image_path.is_relative_to(tmp_path / "c")
    # Frame 1 of the cut is frame 2 of the video.
    error = np.mean(
        (load_image(f.image_path)[..., :3] - render(arc_cameras(4)[0], 2 / 5)[::2, ::2] / 255.0) ** 2
    )
    assert -10 * np.log10(error) > 18.0  # an area-filtered half-size frame against a subsampled render


def test_decoded_copies_read_in_place_with_the_frame_choice(tmp_path: Path) -> None:
    root = write_dynerf(tmp_path / "decoded", cameras=3, frames=5, decoded=True, videos=False).root
    ds = open_dataset(root, options=ReadOptions(frame_stride=2, test_frames=1))
    assert ds.timesteps == [0, 1, 2] and ds.frames[2].image_path == root / "cam00" / "images" / "0004.png"
    assert [f.camera_id for f in ds.split("test")] == ["cam00", "cam01", "cam02"]  # the last time
    assert ds.fps is None and not (root / dynerf_videos.CACHE_FOLDER).exists()


def test_the_decoded_folder_reads_as_a_scene_of_its_own(scene: Path) -> None:
    decoded = open_dataset(scene).frames[0].image_path.parents[2]
    ds = open_dataset(decoded)
    assert ds.format == "dynerf" and len(ds.frames) == 24 and ds.fps == pytest.approx(30.0)


def test_without_pyav_an_earlier_decode_is_used_else_one_sentence(scene: Path, tmp_path: Path) -> None:
    root = _copy(scene, tmp_path)
    script = (
        "import sys; sys.modules['av'] = None\n"
        "from core.datasets import open_dataset, DatasetError\n"
        f"try:\n    print(len(open_dataset({str(root)!r}).frames))\n"
        "except DatasetError as exc:\n    print('refused:', exc)\n"
    )
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    refused = run()
    assert refused.startswith("refused:") and "no PyAV" in refused and "training/requirements.txt" in refused
    open_dataset(root, options=ReadOptions(frame_stride=3))  # the trainer decoded a cut
    assert run() == "8"  # 4 cameras x 2 frames: the cut is found


def test_broken_scenes_are_refused_in_one_sentence(scene: Path, tmp_path: Path) -> None:
    root = _copy(scene, tmp_path)
    poses = np.load(root / "poses_bounds.npy")

    (root / "poses_bounds.npy").unlink()
    assert "poses_bounds.npy is missing" in _refusal(root)

    np.save(root / "poses_bounds.npy", poses[:, :15])
    assert "shape (4, 15)" in _refusal(root)

    np.save(root / "poses_bounds.npy", poses[:3])
    assert "has 3 cameras but the folder holds 4" in _refusal(root)

    np.save(root / "poses_bounds.npy", np.concatenate([poses, poses[:1]]))  # fewer videos than poses
    assert "has 5 cameras but the folder holds 4" in _refusal(root)

    bad = poses.copy()
    bad[1, 0] = np.nan
    np.save(root / "poses_bounds.npy", bad)
    assert "NaN" in _refusal(root)

    bad = poses.copy()
    bad[2, :3] *= 3.0  # a scaled rotation
    np.save(root / "poses_bounds.npy", bad)
    assert "camera 2's rotation is not a rotation matrix" in _refusal(root)

    np.save(root / "poses_bounds.npy", poses)
    (root / "cam01.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    message = _refusal(root)
    assert "cam01.mp4" in message and ("cannot be opened" in message or "cannot be decoded" in message)

    (root / "cam01.mp4").write_bytes((scene / "cam01.mp4").read_bytes())
    assert "frame stride 0" in _refusal(root, frame_stride=0)
    assert "validation camera(s) cam09" in _refusal(root, val_cameras=["cam09"])


def test_videos_of_different_lengths_are_refused(tmp_path: Path) -> None:
    root = write_dynerf(tmp_path / "uneven", cameras=3, frames=5, frame_counts={2: 4}).root
    message = _refusal(root)
    assert "different lengths" in message and "cam02: 4 frames" in message


def test_missing_pieces_are_named(tmp_path: Path) -> None:
    root = write_dynerf(tmp_path / "part", cameras=3, frames=3).root
    (root / "cam01.mp4").rename(root / "cam01.mov")
    np.save(root / "poses_bounds.npy", poses_bounds(arc_cameras(2)))
    assert open_dataset(root).camera_ids == ["cam00", "cam02"]  # a filtered-out camera, as N3V has
    mixed = write_dynerf(tmp_path / "mixed", cameras=2, frames=3, decoded=True).root
    (mixed / "cam00.mp4").unlink()
    shutil.rmtree(mixed / "cam01" / "images")
    message = _refusal(mixed)
    assert "cam00 has no video (cam00.mp4) and cam01 no decoded frames" in message
    only_poses = tmp_path / "llff"
    only_poses.mkdir()
    np.save(only_poses / "poses_bounds.npy", poses_bounds(arc_cameras(2)))
    with pytest.raises(DatasetError, match="is not a dataset folder"):
        detect_format(only_poses)  # a static LLFF scene is not ours
    videos_only = tmp_path / "videos"
    videos_only.mkdir()
    shutil.copy(root / "cam00.mp4", videos_only / "cam00.mp4")
    assert "poses_bounds.npy is missing" in _refusal(videos_only)
