"""What a caller may tell a reader, and the split rules for formats that store no splits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checks import load_json
from .errors import DatasetError
from .frames import Split

# Written by the built-in synthetic dataset next to AvatarReX-style data (other readers ignore it).
SPLITS_FILE = "splits.json"
DEFAULT_TEST_FRACTION = 0.1


@dataclass(frozen=True)
class ReadOptions:
    # Held-out cameras (novel-view validation) for formats without split files.
    val_cameras: Sequence[str] | None = None
    # Held-out frames: a count of last timesteps (int), a fraction of them (float < 1), or the
    # timesteps themselves. None: the dataset's own splits, else the last 10 %.
    test_frames: int | float | Sequence[int] | None = None
    # Gaussian Head Avatar: "full" (image_*.jpg) or "lowres" (image_lowres_*.jpg).
    resolution: str = "full"
    # ActorsHQ: which scale folder ("1x", "2x", "4x": 4x is the most downscaled); None picks the
    # most downscaled one present, as Animatable Gaussians does.
    scale: str | None = None
    # IMavatar: sub-sequences (folder names) to use as test; others train.
    test_sequences: Sequence[str] | None = None
    # DyNeRF multi-view videos: keep every n-th frame, at most this many (0: all), decoded at
    # 1/video_downscale of the video size (0: the smallest whole factor that brings the long side
    # to VIDEO_LONG_SIDE) into frames_cache (None: inside the dataset folder when it is writable,
    # else the user cache).
    frame_stride: int = 1
    max_frames: int = 0
    video_downscale: int = 0
    frames_cache: str | None = None


@dataclass(frozen=True)
class SplitRule:
    val_cameras: frozenset[str]
    test_timesteps: frozenset[int]

    def split_of(self, camera_id: str, timestep: int) -> Split:
        if timestep in self.test_timesteps:
            return "test"
        if camera_id in self.val_cameras:
            return "val"
        return "train"


def last_timesteps(timesteps: Sequence[int], spec: int | float) -> list[int]:
    ordered = sorted(set(timesteps))
    if isinstance(spec, float) and 0.0 <= spec < 1.0:
        count = round(len(ordered) * spec)
        if spec > 0.0 and len(ordered) > 1:
            count = max(count, 1)
    else:
        count = int(spec)
    count = min(max(count, 0), max(len(ordered) - 1, 0))  # always leave a training frame
    return ordered[len(ordered) - count :] if count else []


def split_rule(
    root: Path, timesteps: Sequence[int], camera_ids: Sequence[str], options: ReadOptions
) -> SplitRule:
    """Options first, then ``splits.json`` in the dataset root, then: no validation camera and the
    last 10 % of timesteps as test."""
    val: list[str] = []
    test: list[int] | None = None
    splits_path = root / SPLITS_FILE
    if splits_path.is_file():
        data: Any = load_json(splits_path)
        if not isinstance(data, dict):
            raise DatasetError(splits_path, "should be an object with val_cameras and test_timesteps")
        cameras = data.get("val_cameras", [])
        if not isinstance(cameras, list) or not all(isinstance(c, str | int) for c in cameras):
            raise DatasetError(splits_path, "val_cameras should be a list of camera names")
        val = [str(c) for c in cameras]
        if "test_timesteps" in data:
            try:
                test = [int(t) for t in data["test_timesteps"]]
            except (TypeError, ValueError, OverflowError):
                raise DatasetError(splits_path, "test_timesteps should be a list of integers") from None
    if options.val_cameras is not None:
        val = [str(c) for c in options.val_cameras]
    if options.test_frames is not None:
        spec = options.test_frames
        test = last_timesteps(timesteps, spec) if isinstance(spec, int | float) else [int(t) for t in spec]
    if test is None:
        test = last_timesteps(timesteps, DEFAULT_TEST_FRACTION)
    unknown = sorted(set(val) - set(camera_ids))
    if unknown:
        raise DatasetError(root, f"validation camera(s) {', '.join(unknown)} are not in the dataset")
    return SplitRule(frozenset(val), frozenset(test))


def splits_json(val_cameras: Sequence[str], test_timesteps: Sequence[int]) -> str:
    return json.dumps({"val_cameras": list(val_cameras), "test_timesteps": list(test_timesteps)}, indent=1)
