"""Reading the small files of a dataset with errors that name the file and the reason."""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .camera import rotation_error
from .errors import DatasetError


def require_file(path: Path, what: str = "file") -> Path:
    if not path.exists():
        raise DatasetError(path, f"{what} is missing")
    if not path.is_file():
        raise DatasetError(path, f"{what} is not a file")
    return path


def load_json(path: Path) -> Any:
    require_file(path)
    try:
        with path.open("r", encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise DatasetError(path, f"is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise DatasetError(path, "is not a UTF-8 text file") from None
    except OSError as exc:
        raise DatasetError(path, f"cannot be read ({exc.strerror or exc})") from None


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz, loaded (pickled objects refused)."""
    require_file(path)
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise DatasetError(path, f"cannot be read ({exc.strerror or exc})") from None
    if magic != b"PK\x03\x04":
        raise DatasetError(path, "is not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DatasetError(path, "holds pickled Python objects, which are not read") from None
        raise DatasetError(path, f"is not a readable .npz file ({exc})") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DatasetError(path, f"is not a readable .npz file ({exc})") from None


def require_keys(mapping: Any, keys: Sequence[str], path: Path, where: str = "") -> None:
    if not isinstance(mapping, dict):
        raise DatasetError(path, f"{where or 'content'} should be an object with keys {', '.join(keys)}")
    missing = [k for k in keys if k not in mapping]
    if missing:
        place = f" in {where}" if where else ""
        raise DatasetError(path, f"lacks {', '.join(repr(k) for k in missing)}{place}")


def as_array(value: Any, shape: tuple[int, ...], path: Path, what: str) -> np.ndarray:
    """A finite float64 array of exactly ``shape`` (a flat list of the right size is reshaped)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(path, f"{what} is not numeric") from None
    size = math.prod(shape)
    if arr.shape != shape:
        if arr.size == size and arr.ndim <= 2:
            arr = arr.reshape(shape)
        else:
            raise DatasetError(path, f"{what} has shape {arr.shape}, expected {shape}")
    if not np.all(np.isfinite(arr)):
        raise DatasetError(path, f"{what} contains NaN or infinite values")
    return arr


def as_vector(value: Any, path: Path, what: str, size: int | None = None) -> np.ndarray:
    """A finite float64 vector; a leading axis of length 1 is dropped (``(1,100)`` -> ``(100,)``)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(path, f"{what} is not numeric") from None
    while arr.ndim > 1 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise DatasetError(path, f"{what} has shape {np.shape(value)}, expected a vector")
    if size is not None and arr.shape[0] != size:
        raise DatasetError(path, f"{what} has {arr.shape[0]} values, expected {size}")
    if not np.all(np.isfinite(arr)):
        raise DatasetError(path, f"{what} contains NaN or infinite values")
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


def positive_int(value: Any, path: Path, what: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DatasetError(path, f"{what} is not a number") from None
    if not math.isfinite(number) or number <= 0 or number != int(number):
        raise DatasetError(path, f"{what} should be a positive whole number, got {value!r}")
    return int(number)


def inside(root: Path, relative: str, source: Path, what: str) -> Path:
    """``root / relative`` for a path read from a dataset file (``./`` prefixes allowed)."""
    if not isinstance(relative, str) or not relative:
        raise DatasetError(source, f"{what} should be a relative path, got {relative!r}")
    rel = relative.replace("\\", "/")
    while rel.startswith("./"):
        rel = rel[2:]
    return Path(os.path.normpath(root / rel))
