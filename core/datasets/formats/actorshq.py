"""ActorsHQ (one sequence folder, as Animatable Gaussians reads it): ``{scale}/calibration.csv``
with columns name, w, h, rx, ry, rz, tx, ty, tz, fx, fy, px, py (axis-angle + translation of the
camera-to-world transform, OpenCV axes; intrinsics divided by the image size), images
``{scale}/rgbs/<cam>/<cam>_rgb%06d.jpg``, masks ``{scale}/masks/<cam>/<cam>_mask%06d.png`` and
``smpl_params.npz`` in the sequence folder. ``scale`` is 1x, 2x or 4x."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ...rig.lbs import axis_angle_to_matrix
from ..camera import Camera, intrinsics, invert_rigid, rigid
from ..checks import as_vector, check_intrinsics, positive_int, require_file
from ..errors import DatasetError
from ..frames import Dataset
from ..options import ReadOptions
from .smplx_multiview import PARAMS_FILE, build, numbered_files

FORMAT = "actorshq"
LABEL = "ActorsHQ (multi-view SMPL-X)"
SCALES = ("1x", "2x", "4x")
COLUMNS = ("name", "w", "h", "rx", "ry", "rz", "tx", "ty", "tz", "fx", "fy", "px", "py")


def scales_present(root: Path) -> list[str]:
    return [s for s in SCALES if (root / s / "calibration.csv").is_file()]


def looks_like(root: Path) -> bool:
    return bool(scales_present(root)) and (root / PARAMS_FILE).is_file()


def read_calibration(path: Path) -> dict[str, Camera]:
    require_file(path)
    cameras: dict[str, Camera] = {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(path, f"cannot be read as CSV ({exc})") from None
    if not rows:
        raise DatasetError(path, "lists no cameras")
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        raise DatasetError(path, f"lacks column(s) {', '.join(missing)}")
    for line, row in enumerate(rows, start=2):
        name = row["name"]
        where = f"line {line} ({name})"
        try:
            values = [float(row[c]) for c in COLUMNS[1:]]
        except (TypeError, ValueError):
            raise DatasetError(path, f"{where} has a value that is not a number") from None
        v = as_vector(values, path, where, 12)
        width = positive_int(v[0], path, f"{where} w")
        height = positive_int(v[1], path, f"{where} h")
        c2w = rigid(axis_angle_to_matrix(v[2:5]), v[5:8])
        kmat = intrinsics(v[8] * width, v[9] * height, v[10] * width, v[11] * height)
        check_intrinsics(kmat, width, height, path, where)
        cameras[name] = Camera(name, invert_rigid(c2w), kmat, width, height)
    return cameras


def read(root: Path, options: ReadOptions, rig_model: object | None = None) -> Dataset:
    del rig_model
    present = scales_present(root)
    if not present:
        raise DatasetError(root, "has no 1x/2x/4x folder with calibration.csv (ActorsHQ)")
    scale = options.scale or present[-1]
    if scale not in present:
        raise DatasetError(root / scale, f"is not here; available: {', '.join(present)}")
    base = root / scale
    cameras = read_calibration(base / "calibration.csv")

    def images_of(cam: str) -> dict[int, Path]:
        return numbered_files(base / "rgbs" / cam, re.compile(rf"^{re.escape(cam)}_rgb(\d+)\.(?:jpg|png)$"))

    def mask_of(cam: str, index: int, image: Path) -> Path | None:
        mask = base / "masks" / cam / f"{cam}_mask{index:06d}.png"
        return mask if mask.is_file() else None

    return build(FORMAT, root, cameras, images_of, mask_of, options, [f"ActorsHQ scale {scale}"])
