"""AvatarReX (Animatable Gaussians' capture): ``calibration_full.json`` {camera serial: {K, R, T,
imgSize}} (OpenCV world-to-camera), images ``<cam>/%08d.jpg``, masks ``<cam>/mask/pha/%08d.jpg``,
``smpl_params.npz``. The built-in synthetic body dataset uses this layout plus ``splits.json``."""

from __future__ import annotations

import re
from pathlib import Path

from ..checks import load_json
from ..errors import DatasetError
from ..frames import Dataset
from ..options import ReadOptions
from .smplx_multiview import PARAMS_FILE, build, camera_from_krt, has_distortion, numbered_files

FORMAT = "avatarrex"
LABEL = "AvatarReX (multi-view SMPL-X)"
CALIBRATION = "calibration_full.json"
IMAGE = re.compile(r"^(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)


def looks_like(root: Path) -> bool:
    return (root / CALIBRATION).is_file() and (root / PARAMS_FILE).is_file()


def read(root: Path, options: ReadOptions, rig_model: object | None = None) -> Dataset:
    del rig_model
    source = root / CALIBRATION
    calib = load_json(source)
    if not isinstance(calib, dict) or not calib:
        raise DatasetError(source, "should map camera names to {K, R, T}")
    images = {cam: numbered_files(root / cam, IMAGE) for cam in calib}
    cameras = {}
    notes = []
    for cam, entry in calib.items():
        first = next(iter(sorted(images[cam].items())), (0, None))[1]
        cameras[str(cam)] = camera_from_krt(str(cam), entry, source, first)
        if has_distortion(entry):
            notes.append(f"camera {cam} has lens distortion coefficients, which are ignored")

    def mask_of(cam: str, index: int, image: Path) -> Path | None:
        for suffix in (".jpg", ".png"):
            mask = root / cam / "mask" / "pha" / f"{image.stem}{suffix}"
            if mask.is_file():
                return mask
        return None

    return build(FORMAT, root, cameras, lambda cam: images[cam], mask_of, options, notes)
