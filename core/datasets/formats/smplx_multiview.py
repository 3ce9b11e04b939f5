"""What AvatarReX, THuman4.0 and ActorsHQ share (Animatable Gaussians' multi-view SMPL-X data):
calibrated static cameras, one image per camera and frame, and ``smpl_params.npz`` at the root
with one row per frame (flat-hand axis-angle hands, no PCA)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...untrusted.names import ascii_number
from ..camera import Camera, rigid
from ..checks import (
    as_array,
    check_intrinsics,
    check_rotation,
    load_json,
    load_npz,
    positive_int,
    require_keys,
)
from ..errors import DatasetError
from ..frames import Dataset, Frame
from ..image_io import image_size
from ..options import ReadOptions, split_rule
from ..rig_params import smplx_sequence

PARAMS_FILE = "smpl_params.npz"


def numbered_files(folder: Path, pattern: re.Pattern[str]) -> dict[int, Path]:
    """Files in ``folder`` whose name matches ``pattern`` (group 1: the frame number)."""
    out: dict[int, Path] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                match = pattern.match(entry.name)
                number = ascii_number(match.group(1)) if match else None
                if number is not None and entry.is_file():
                    out[number] = Path(entry.path)
    except FileNotFoundError:
        return {}
    return out


def build(
    fmt: str,
    root: Path,
    cameras: dict[str, Camera],
    images_of: Callable[[str], dict[int, Path]],
    mask_of: Callable[[str, int, Path], Path | None],
    options: ReadOptions,
    notes: list[str] | None = None,
) -> Dataset:
    notes = list(notes or [])
    params_path = root / PARAMS_FILE
    count, per_frame = smplx_sequence(load_npz(params_path), params_path)
    listed: list[tuple[int, str, Path]] = []
    for cam_id in cameras:
        files = images_of(cam_id)
        if not files:
            notes.append(f"camera {cam_id} has no images")
        for index, path in files.items():
            listed.append((index, cam_id, path))
    if not listed:
        raise DatasetError(root, "holds no images for any calibrated camera")
    too_far = max(index for index, _, _ in listed)
    if too_far >= count:
        raise DatasetError(
            params_path, f"has parameters for {count} frames but there are images of frame {too_far}"
        )
    listed.sort()
    timesteps = sorted({index for index, _, _ in listed})
    expected = len(timesteps) * len(cameras)
    if len(listed) < expected:
        notes.append(f"{expected - len(listed)} of {expected} camera images are missing and were skipped")
    if count > len(timesteps):
        notes.append(f"{count - len(timesteps)} parameter frames have no images")
    rule = split_rule(root, timesteps, list(cameras), options)
    rig_params = {t: per_frame[t] for t in timesteps}
    frames = [
        Frame(path, mask_of(cam_id, index, path), cameras[cam_id], index,
              rule.split_of(cam_id, index), "SMPLX", rig_params[index])
        for index, cam_id, path in listed
    ]  # fmt: skip
    recipe = _recipe(root)
    fps_value = recipe.get("fps") if recipe else None
    fps = float(fps_value) if isinstance(fps_value, int | float) else None
    bg = recipe.get("background_color") if recipe else None
    background = None
    if isinstance(bg, list) and len(bg) == 3:
        background = (float(bg[0]), float(bg[1]), float(bg[2]))
    return Dataset(fmt, root, frames, "SMPLX", "ok", rig_params, notes=notes, recipe=recipe, fps=fps,
                   background=background)  # fmt: skip


def _recipe(root: Path) -> dict[str, object] | None:
    """The built-in synthetic dataset records how it was made in recipe.json."""
    path = root / "recipe.json"
    if not path.is_file():
        return None
    data = load_json(path)
    return data if isinstance(data, dict) else None


def camera_from_krt(cam_id: str, entry: object, source: Path, image_for_size: Path | None) -> Camera:
    """AvatarReX / THuman4 calibration entry {K, R, T[, imgSize]} (OpenCV world-to-camera)."""
    require_keys(entry, ("K", "R", "T"), source, f"camera {cam_id}")
    assert isinstance(entry, dict)
    kmat = as_array(entry["K"], (3, 3), source, f"camera {cam_id} K")
    rot = as_array(entry["R"], (3, 3), source, f"camera {cam_id} R")
    trans = as_array(entry["T"], (3,), source, f"camera {cam_id} T")
    check_rotation(rot, source, f"camera {cam_id} R")
    if "imgSize" in entry:
        size = entry["imgSize"]
        if not isinstance(size, list | tuple) or len(size) != 2:
            raise DatasetError(source, f"camera {cam_id} imgSize should be [width, height]")
        width = positive_int(size[0], source, f"camera {cam_id} imgSize width")
        height = positive_int(size[1], source, f"camera {cam_id} imgSize height")
    elif image_for_size is not None:
        width, height = image_size(image_for_size)
    else:
        raise DatasetError(source, f"camera {cam_id} has no imgSize and no image to measure")
    check_intrinsics(kmat, width, height, source, f"camera {cam_id}")
    return Camera(cam_id, rigid(rot, trans), kmat, width, height)


def _numeric(value: object) -> bool:
    try:
        np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def has_distortion(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    for key in ("distCoeff", "D", "dist"):
        value = entry.get(key)
        if value is not None and _numeric(value) and np.any(np.abs(np.asarray(value, dtype=float)) > 1e-9):
            return True
    return False
