"""Parameter dictionaries as the datasets store them (docs/DESIGN.md keys), checked per frame.

Fixed-size entries are validated here; the sizes of identity/expression vectors (shape, expr,
betas, expression) depend on the model and are checked against it by ``fit_to_model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .checks import as_vector, numbers_array, plausible
from .errors import DatasetError

FLAME_KEYS = ("shape", "expr", "rotation", "neck_pose", "jaw_pose", "eyes_pose", "translation")
SMPLX_KEYS = (
    "betas", "global_orient", "transl", "body_pose", "jaw_pose", "leye_pose", "reye_pose",
    "left_hand_pose", "right_hand_pose", "expression",
)  # fmt: skip

FIXED_SIZES: dict[str, dict[str, int]] = {
    "FLAME": {"rotation": 3, "neck_pose": 3, "jaw_pose": 3, "eyes_pose": 6, "translation": 3},
    "SMPLX": {
        "global_orient": 3, "transl": 3, "body_pose": 63, "jaw_pose": 3, "leye_pose": 3,
        "reye_pose": 3, "left_hand_pose": 45, "right_hand_pose": 45,
    },
}  # fmt: skip
FREE_SIZES: dict[str, tuple[str, ...]] = {"FLAME": ("shape", "expr"), "SMPLX": ("betas", "expression")}


def flame_frame(
    raw: Mapping[str, Any], path: Path, required: tuple[str, ...] = FLAME_KEYS
) -> dict[str, np.ndarray]:
    """One frame of FLAME parameters (GaussianAvatars flame_param npz layout) -> checked dict.
    ``static_offset`` (V,3) and ``dynamic_offset`` are kept when present."""
    missing = [k for k in required if k not in raw]
    if missing:
        raise DatasetError(path, f"lacks FLAME parameter(s) {', '.join(missing)}")
    out: dict[str, np.ndarray] = {}
    for key, size in FIXED_SIZES["FLAME"].items():
        if key in raw:
            out[key] = as_vector(raw[key], path, key, size)
    for key in FREE_SIZES["FLAME"]:
        if key in raw:
            out[key] = as_vector(raw[key], path, key)
    for key in ("static_offset", "dynamic_offset"):
        if key in raw:
            arr = numbers_array(raw[key], path, key)
            while arr.ndim > 2 and arr.shape[0] == 1:
                arr = arr[0]
            if arr.ndim != 2 or arr.shape[1] != 3:
                raise DatasetError(path, f"{key} has shape {np.shape(raw[key])}, expected (1, V, 3)")
            plausible(arr, path, key)
            out[key] = arr
    return out


def smplx_sequence(raw: Mapping[str, Any], path: Path) -> tuple[int, list[dict[str, np.ndarray]]]:
    """``smpl_params.npz`` (leading frame axis) -> (frame count, per-frame dicts).

    ``betas`` may be (B,) or (1,B) and is shared; every other key must have one row per frame.
    Hands must be full 45-value axis-angle poses (PCA hand poses are refused)."""
    required = ("betas", "global_orient", "transl", "body_pose")
    missing = [k for k in required if k not in raw]
    if missing:
        raise DatasetError(path, f"lacks SMPL-X parameter(s) {', '.join(missing)}")
    betas = as_vector(raw["betas"][0] if np.ndim(raw["betas"]) == 2 else raw["betas"], path, "betas")
    num = int(np.shape(raw["global_orient"])[0]) if np.ndim(raw["global_orient"]) >= 2 else 0
    if num == 0:
        raise DatasetError(path, f"global_orient has shape {np.shape(raw['global_orient'])}, expected (T, 3)")
    per_key: dict[str, np.ndarray] = {}
    for key in SMPLX_KEYS:
        if key == "betas" or key not in raw:
            continue
        arr = numbers_array(raw[key], path, key)
        if arr.ndim == 0 or arr.shape[0] != num:
            raise DatasetError(
                path, f"{key} has {arr.shape[0] if arr.ndim else 0} frames but global_orient has {num}"
            )
        arr = arr.reshape(num, -1)
        want = FIXED_SIZES["SMPLX"].get(key)
        if want is not None and arr.shape[1] != want:
            hint = " (PCA hand poses are not supported: store full axis-angle)" if "hand" in key else ""
            raise DatasetError(path, f"{key} has {arr.shape[1]} values per frame, expected {want}{hint}")
        if not np.all(np.isfinite(arr)):
            bad = int(np.nonzero(~np.all(np.isfinite(arr), axis=1))[0][0])
            raise DatasetError(path, f"{key} contains NaN or infinite values (frame {bad})")
        plausible(arr, path, key)
        per_key[key] = arr
    frames = []
    for i in range(num):
        frame = {"betas": betas}
        frame.update({k: v[i] for k, v in per_key.items()})
        frames.append(frame)
    return num, frames
