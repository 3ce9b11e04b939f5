"""Reading the small files of a dataset with errors that name the file and the reason."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..untrusted import files, json_text, reading
from ..untrusted.arrays import leaf_count
from ..untrusted.errors import InputError, short
from ..untrusted.files import GIB, MIB
from ..untrusted.npz import read_npz
from .camera import rotation_error
from .errors import DatasetError

MAX_JSON_BYTES = 256 * MIB
MAX_NPZ_BYTES = 4 * GIB
MAX_VALUE = 1e7  # camera and rig numbers (pixels, metres, radians): beyond is a damaged file
MAX_IMAGE_SIDE = 1 << 16


def dataset_error(path: Path) -> Any:
    """The factory ``core.untrusted.reading`` needs: DatasetError naming the whole path."""
    return lambda _name, problem: DatasetError(path, problem)


def require_file(path: Path, what: str = "file") -> Path:
    if not path.exists() and not path.is_symlink():
        raise DatasetError(path, f"{what} is missing")
    if path.is_dir():
        raise DatasetError(path, f"{what} is not a file")
    if not files.is_regular(path):
        with reading(path, dataset_error(path)):
            files.check_regular(path)
    return path


def load_json(path: Path) -> Any:
    require_file(path)
    with reading(path, dataset_error(path)):
        return json_text.load_file(path, max_bytes=MAX_JSON_BYTES, allow_constants=True)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz, loaded (pickled objects refused)."""
    require_file(path)
    with reading(path, dataset_error(path), ".npz"):
        with files.open_regular(path, MAX_NPZ_BYTES) as handle:
            magic = handle.read(4)
        if magic != b"PK\x03\x04":
            raise DatasetError(path, "is not a readable .npz file (not a zip archive)")
        try:
            return read_npz(path, max_file_bytes=MAX_NPZ_BYTES)
        except InputError as exc:
            if "Python objects" in exc.problem:
                raise DatasetError(path, "holds pickled Python objects, which are not read") from None
            raise


def require_keys(mapping: Any, keys: Sequence[str], path: Path, where: str = "") -> None:
    if not isinstance(mapping, dict):
        raise DatasetError(path, f"{where or 'content'} should be an object with keys {', '.join(keys)}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        place = f" in {where}" if where else ""
        raise DatasetError(path, f"lacks {', '.join(repr(k) for k in missing)}{place}")


def as_array(value: Any, shape: tuple[int, ...], path: Path, what: str) -> np.ndarray:
    """A finite float64 array of exactly ``shape`` (a flat list of the right size is reshaped)."""
    arr = numbers_array(value, path, what)
    size = math.prod(shape)
    if arr.shape != shape:
        if arr.size == size and arr.ndim <= 2:
            arr = arr.reshape(shape)
        else:
            raise DatasetError(path, f"{what} has shape {arr.shape}, expected {shape}")
    plausible(arr, path, what)
    return arr


def numbers_array(value: Any, path: Path, what: str) -> np.ndarray:
    """``value`` as a float64 array of any shape; text, objects, complex numbers and nested lists
    of absurd size are refused (finiteness is the caller's check: see ``plausible``)."""
    if isinstance(value, str | bytes | dict) or value is None:
        raise DatasetError(path, f"{what} is not numeric")
    try:
        if isinstance(value, list | tuple):
            leaf_count(value)
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError
        return arr.astype(np.float64)
    except InputError as exc:
        raise DatasetError(path, f"{what} {exc.problem}") from None
    except (TypeError, ValueError, OverflowError):
        raise DatasetError(path, f"{what} is not numeric") from None


def plausible(arr: np.ndarray, path: Path, what: str) -> None:
    """DatasetError unless every value is finite and within +-MAX_VALUE."""
    if not np.all(np.isfinite(arr)):
        raise DatasetError(path, f"{what} contains NaN or infinite values")
    if arr.size and float(np.abs(arr).max()) > MAX_VALUE:
        raise DatasetError(path, f"{what} holds values beyond the plausible +-{MAX_VALUE:g}")


def as_vector(value: Any, path: Path, what: str, size: int | None = None) -> np.ndarray:
    """A finite float64 vector; a leading axis of length 1 is dropped (``(1,100)`` -> ``(100,)``)."""
    arr = numbers_array(value, path, what)
    while arr.ndim > 1 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise DatasetError(path, f"{what} has shape {np.shape(value)}, expected a vector")
    if size is not None and arr.shape[0] != size:
        raise DatasetError(path, f"{what} has {arr.shape[0]} values, expected {size}")
    plausible(arr, path, what)
    return arr


def check_rotation(rotation: np.ndarray, path: Path, what: str) -> None:
    err = rotation_error(rotation)
    if err > 1e-3:
        raise DatasetError(path, f"{what} is not a rotation matrix (orthonormality error {err:.3g})")


def check_intrinsics(kmat: np.ndarray, width: int, height: int, path: Path, what: str) -> None:
    if not (kmat[0, 0] > 0 and kmat[1, 1] > 0):
        focal = f"({kmat[0, 0]:.6g}, {kmat[1, 1]:.6g})"
        raise DatasetError(path, f"{what} has a non-positive focal length {focal}")
    if width <= 0 or height <= 0:
        raise DatasetError(path, f"{what} has an invalid image size {width}x{height}")


def positive_int(value: Any, path: Path, what: str, high: int = MAX_IMAGE_SIDE) -> int:
    if isinstance(value, bool | list | dict | tuple) or value is None:
        raise DatasetError(path, f"{what} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DatasetError(path, f"{what} is not a number") from None
    if not math.isfinite(number) or number <= 0 or number != int(number) or number > high:
        raise DatasetError(path, f"{what} should be a whole number from 1 to {high}, got {short(value, 24)}")
    return int(number)


def inside(root: Path, relative: str, source: Path, what: str) -> Path:
    """``root / relative`` for a path read from a dataset file (``./`` prefixes allowed)."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        raise DatasetError(source, f"{what} should be a relative path, got {short(repr(relative), 60)}")
    rel = relative.replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return Path(os.path.normpath(root / rel))
