"""THuman4.0 (as Animatable Gaussians reads it): ``calibration.json`` keyed ``cam%02d`` with K, R,
T, imgSize (OpenCV world-to-camera), images ``images/cam%02d/%08d.jpg``, masks
``masks/cam%02d/%08d.jpg``, ``smpl_params.npz``; ``missing_img_files.txt`` lists absent images."""

from __future__ import annotations

import re
from pathlib import Path

from ..checks import load_json
from ..errors import DatasetError
from ..frames import Dataset
from ..options import ReadOptions
from .smplx_multiview import PARAMS_FILE, build, camera_from_krt, numbered_files

FORMAT = "thuman4"
LABEL = "THuman4.0 (multi-view SMPL-X)"
CALIBRATION = "calibration.json"
IMAGE = re.compile(r"^(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)


def looks_like(root: Path) -> bool:
    return (root / CALIBRATION).is_file() and (root / PARAMS_FILE).is_file() and (root / "images").is_dir()


def read(root: Path, options: ReadOptions, rig_model: object | None = None) -> Dataset:
    del rig_model
    source = root / CALIBRATION
    calib = load_json(source)
    if not isinstance(calib, dict) or not calib:
        raise DatasetError(source, "should map camera names (cam00, ...) to {K, R, T}")
    images = {str(cam): numbered_files(root / "images" / str(cam), IMAGE) for cam in calib}
    cameras = {}
    for cam, entry in calib.items():
        first = next(iter(sorted(images[str(cam)].items())), (0, None))[1]
        cameras[str(cam)] = camera_from_krt(str(cam), entry, source, first)

    def mask_of(cam: str, index: int, image: Path) -> Path | None:
        for suffix in (".jpg", ".png"):
            mask = root / "masks" / cam / f"{image.stem}{suffix}"
            if mask.is_file():
                return mask
        return None

    return build(FORMAT, root, cameras, lambda cam: images[cam], mask_of, options)
