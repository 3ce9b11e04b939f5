"""LLFF's ``poses_bounds.npy`` (the camera file of DyNeRF / Neural 3D Video scenes).

An (N, 17) float array, one row per camera: the first 15 numbers are a 3x5 matrix in row-major
order, a 3x4 camera-to-world transform whose rotation columns are the camera's [down, right,
backwards] axes, then the column (image height, image width, focal length in pixels); the last two
are the near and far depth bounds. The principal point is the image centre (docs/FORMATS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...untrusted import files, reading
from ...untrusted.errors import InputError
from ...untrusted.files import MIB
from ...untrusted.npz import NpyHeader, read_npy_stream
from ..checks import MAX_IMAGE_SIDE, check_rotation, dataset_error, plausible, require_file
from ..errors import DatasetError

POSES_FILE = "poses_bounds.npy"
ROW_LENGTH = 17
MAX_CAMERAS = 10_000
MAX_POSES_BYTES = 4 * MIB  # 10,000 rows of 17 float64 take 1.4 MB


@dataclass(frozen=True)
class LlffCamera:
    camera_to_world: np.ndarray  # 4x4, OpenCV axes (x right, y down, z forward)
    height: float  # the image size and focal length the poses were solved at
    width: float
    focal: float
    near: float
    far: float


def llff_to_opencv(pose: np.ndarray) -> np.ndarray:
    """A 3x4 LLFF camera-to-world ([down, right, backwards] columns) as a 4x4 OpenCV one
    ([right, down, forwards]): swap the first two columns and negate the third."""
    c2w = np.eye(4)
    c2w[:3, 0] = pose[:, 1]
    c2w[:3, 1] = pose[:, 0]
    c2w[:3, 2] = -pose[:, 2]
    c2w[:3, 3] = pose[:, 3]
    return c2w


def _check_header(header: NpyHeader) -> None:
    shape = header.shape
    if len(shape) != 2 or shape[1] != ROW_LENGTH:
        raise InputError(f"holds an array of shape {shape}; LLFF poses are (cameras, {ROW_LENGTH})")
    if not 0 < shape[0] <= MAX_CAMERAS:
        raise InputError(f"holds {shape[0]} cameras; from 1 to {MAX_CAMERAS} are expected")
    if header.dtype.kind not in "iuf":
        raise InputError(f"holds {header.dtype.name} values where numbers are due")


def read_poses_bounds(path: Path) -> list[LlffCamera]:
    """The cameras of a ``poses_bounds.npy``; DatasetError naming the file and the problem."""
    require_file(path, POSES_FILE)
    with reading(path, dataset_error(path), ".npy"):
        with files.open_regular(path, MAX_POSES_BYTES) as stream:
            array = read_npy_stream(stream, POSES_FILE, max_bytes=MAX_POSES_BYTES, check=_check_header)
    rows = np.asarray(array, dtype=np.float64)
    plausible(rows, path, "the poses")
    cameras = []
    for i, row in enumerate(rows):
        matrix = row[:15].reshape(3, 5)
        height, width, focal = (float(v) for v in matrix[:, 4])
        if not (0 < height <= MAX_IMAGE_SIDE and 0 < width <= MAX_IMAGE_SIDE):
            raise DatasetError(path, f"camera {i} has an implausible image size of {width:g}x{height:g}")
        if focal <= 0:
            raise DatasetError(path, f"camera {i} has a focal length of {focal:g}; it must be positive")
        check_rotation(matrix[:, :3], path, f"camera {i}'s rotation")
        if np.linalg.det(matrix[:, :3]) < 0:
            raise DatasetError(path, f"camera {i}'s rotation is a reflection, not a rotation")
        near, far = float(row[15]), float(row[16])
        cameras.append(LlffCamera(llff_to_opencv(matrix[:, :4]), height, width, focal, near, far))
    return cameras
