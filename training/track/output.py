"""The tracked dataset, in the GaussianAvatars / VHAP layout the readers and ``fit`` take:
``images/{t:05d}_{c:02d}.png``, ``fg_masks/`` (same names), ``flame_param/{t:05d}.npz`` (shape
shared by all frames), ``transforms_{train,val,test}.json`` and ``track.json`` (what was found).
Everything is written into a hidden folder beside the output and renamed into place at the end,
so an interrupted or failed run leaves nothing half-written."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.datasets.camera import Camera
from core.datasets.frames import Split
from core.datasets.writers import FrameRecord, atomic_write_text, write_gaussian_avatars
from training.errors import DatasetError

from .fitter import FitResult, View

TRACK_FILE = "track.json"


def image_name(timestep: int, camera: int) -> str:
    return f"{timestep:05d}_{camera:02d}.png"


def check_output(out: Path) -> None:
    """An output folder must be new or empty: a tracked dataset is never mixed into other files."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"Output {out} already exists and is not an empty folder; choose a new folder.")


class StagingFolder:
    """A hidden folder beside ``out`` that becomes ``out`` on commit() and vanishes on discard()."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{out.name}.tracking-", dir=out.parent))

    def commit(self) -> None:
        check_output(self.out)
        if self.out.exists():
            self.out.rmdir()
        self.path.rename(self.out)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def choose_splits(num_timesteps: int, num_cameras: int) -> dict[tuple[int, int], Split]:
    """(timestep, camera) -> split, as GaussianAvatars does: the last tenth of the timesteps is
    ``test`` (new expressions); with three or more cameras the middle camera is held out as ``val``
    (a new view), with one camera every tenth remaining timestep is (new frames)."""
    test_count = math.ceil(0.1 * num_timesteps) if num_timesteps >= 5 else 0
    first_test = num_timesteps - test_count
    held_camera = num_cameras // 2 if num_cameras >= 3 else None
    out: dict[tuple[int, int], Split] = {}
    for t in range(num_timesteps):
        for c in range(num_cameras):
            if t >= first_test:
                out[(t, c)] = "test" if c != held_camera else "val"
            elif held_camera is not None:
                out[(t, c)] = "val" if c == held_camera else "train"
            elif num_cameras == 1 and first_test >= 3 and t % 10 == 5:
                out[(t, c)] = "val"
            else:
                out[(t, c)] = "train"
    return out


def flame_dicts(result: FitResult, frames: Sequence[int]) -> dict[int, dict[str, np.ndarray]]:
    """Per output timestep (0..) the GaussianAvatars keys, from fitted frames ``frames``."""
    out = {}
    for t, f in enumerate(frames):
        pose = result.pose[f]
        out[t] = {
            "shape": result.shape,
            "expr": result.expression[f],
            "rotation": pose[0],
            "neck_pose": pose[1],
            "jaw_pose": pose[2],
            "eyes_pose": np.concatenate([pose[3], pose[4]]),
            "translation": result.translation[f],
        }
    return out


def write_dataset(
    root: Path,
    camera_ids: Sequence[str],
    views: Sequence[View],
    result: FitResult,
    kept_frames: Sequence[int],
    has_masks: bool,
    info: dict[str, Any],
) -> None:
    """Cameras, parameters and splits for the images already under ``root/images`` (and masks)."""
    cameras = [
        Camera(camera_id=cid, world_to_camera=v.world_to_camera, K=v.K, width=v.width, height=v.height)
        for cid, v in zip(camera_ids, views, strict=True)
    ]
    splits = choose_splits(len(kept_frames), len(cameras))
    records = [
        FrameRecord(
            camera_index=c,
            timestep=t,
            split=split,
            image=f"images/{image_name(t, c)}",
            mask=f"fg_masks/{image_name(t, c)}" if has_masks else None,
        )
        for (t, c), split in sorted(splits.items())
    ]
    write_gaussian_avatars(root, cameras, records, flame_dicts(result, kept_frames))
    atomic_write_text(root / TRACK_FILE, json.dumps(info, indent=1))
