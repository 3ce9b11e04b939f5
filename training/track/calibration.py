"""Camera calibration for a multi-view capture: the JSON the ``render`` command reads
(``{"cameras": [{"id", "K", "world_to_camera", "width", "height", "dist"?}]}``, OpenCV axes, pixel
centres at integers) or COLMAP's text model (``cameras.txt`` + ``images.txt``; a camera's id is its
image name's first folder, or the name's stem)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.rotations import quaternion_to_matrix
from training.errors import DatasetError
from training.files.cameras import read_cameras


@dataclass
class CalibratedCamera:
    camera_id: str
    K: np.ndarray  # (3,3)
    world_to_camera: np.ndarray  # (4,4)
    width: int
    height: int
    dist: np.ndarray | None = None  # OpenCV distortion coefficients


def read_calibration(path: Path) -> dict[str, CalibratedCamera]:
    if path.is_dir() or path.name in ("cameras.txt", "images.txt"):
        return read_colmap(path if path.is_dir() else path.parent)
    return read_json(path)


def read_json(path: Path) -> dict[str, CalibratedCamera]:
    """The render command's camera JSON, each camera with the ``id`` of its sub-folder."""
    out: dict[str, CalibratedCamera] = {}
    for i, cam in enumerate(read_cameras(str(path))):
        if cam["id"] is None:
            raise DatasetError(f"Calibration {path}: camera {i} needs an 'id' (the name of its sub-folder).")
        camera = CalibratedCamera(
            camera_id=cam["id"], K=cam["K"], world_to_camera=cam["world_to_camera"],
            width=cam["width"], height=cam["height"], dist=cam.get("dist"),
        )  # fmt: skip
        if not (np.all(np.isfinite(camera.K)) and np.all(np.isfinite(camera.world_to_camera))):
            raise DatasetError(f"Calibration {path}: camera {camera.camera_id} has NaN or infinite values.")
        out[camera.camera_id] = camera
    return out


def _lines(path: Path, keep_blank: bool = False) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"COLMAP file {path} cannot be read ({exc}).") from exc
    return [
        line.split()
        for line in text.splitlines()
        if (keep_blank or line.strip()) and not line.startswith("#")
    ]


def _colmap_intrinsics(model: str, params: list[float], where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """COLMAP puts the top-left pixel's centre at (0.5, 0.5); ours is at (0, 0)."""
    if model == "SIMPLE_PINHOLE":
        f, cx, cy = params[:3]
        fx = fy = f
        dist = None
    elif model == "PINHOLE":
        fx, fy, cx, cy = params[:4]
        dist = None
    elif model in ("SIMPLE_RADIAL", "RADIAL"):
        f, cx, cy, *k = params
        fx = fy = f
        dist = np.array([k[0], k[1] if len(k) > 1 else 0.0, 0.0, 0.0])
    elif model == "OPENCV":
        fx, fy, cx, cy, *k = params
        dist = np.array(k[:4])
    else:
        raise DatasetError(f"{where}: COLMAP camera model {model} is not supported (use PINHOLE or OPENCV).")
    k_matrix = np.array([[fx, 0.0, cx - 0.5], [0.0, fy, cy - 0.5], [0.0, 0.0, 1.0]])
    return k_matrix, dist


def read_colmap(folder: Path) -> dict[str, CalibratedCamera]:
    cams_path, images_path = folder / "cameras.txt", folder / "images.txt"
    for p in (cams_path, images_path):
        if not p.is_file():
            raise DatasetError(f"COLMAP calibration {folder} lacks {p.name}.")
    intrinsics: dict[str, tuple[np.ndarray, np.ndarray | None, int, int]] = {}
    try:
        for row in _lines(cams_path):
            k, dist = _colmap_intrinsics(row[1], [float(v) for v in row[4:]], str(cams_path))
            intrinsics[row[0]] = (k, dist, int(row[2]), int(row[3]))
        out: dict[str, CalibratedCamera] = {}
        # images.txt holds two lines per image: the pose, then the 2D points (which may be empty).
        for row in _lines(images_path, keep_blank=True)[::2]:
            if len(row) < 10:
                raise ValueError(f"pose line {' '.join(row)!r} has fewer than 10 fields")
            qw, qx, qy, qz, tx, ty, tz = (float(v) for v in row[1:8])
            cam_key, name = row[8], " ".join(row[9:])
            if cam_key not in intrinsics:
                raise DatasetError(
                    f"{images_path}: image {name} uses camera {cam_key} missing from cameras.txt."
                )
            w2c = np.eye(4)
            w2c[:3, :3] = quaternion_to_matrix(np.array([qw, qx, qy, qz]))
            w2c[:3, 3] = (tx, ty, tz)
            k, dist, width, height = intrinsics[cam_key]
            camera_id = name.split("/")[0] if "/" in name else Path(name).stem
            out[camera_id] = CalibratedCamera(camera_id, k, w2c, width, height, dist)
    except (IndexError, ValueError) as exc:
        raise DatasetError(f"COLMAP calibration {folder} is malformed ({exc}).") from exc
    if not out:
        raise DatasetError(f"COLMAP calibration {folder} lists no images.")
    return out
