"""Frame-rate resampling of pose sequences at any ratio (not integer decimation).

Rotations interpolate by quaternion slerp, translations and blend-shape coefficients linearly.
"""

from __future__ import annotations

import numpy as np

from ..rotations import axis_angle_to_quaternion, quaternion_to_axis_angle, slerp
from ..untrusted.numbers import MAX_KEYFRAMES
from .errors import MotionFileError


def sample_times(num_frames: int, source_fps: float, target_fps: float) -> np.ndarray:
    """Source-frame positions (fractional) of every target frame inside the clip."""
    duration = (num_frames - 1) / source_fps
    exact = duration * target_fps
    if not np.isfinite(exact) or exact >= MAX_KEYFRAMES:
        raise MotionFileError(
            f"The clip lasts {duration:.4g} s: at {target_fps:g} fps that is more than {MAX_KEYFRAMES} "
            "frames; check its frame rate."
        )
    count = int(np.floor(exact + 1e-9)) + 1
    return np.arange(count) * (source_fps / target_fps)


def _bracket(positions: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lower = np.clip(np.floor(positions).astype(np.int64), 0, num_frames - 1)
    upper = np.minimum(lower + 1, num_frames - 1)
    return lower, upper, positions - lower


def resample_linear(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """values (T, ...) sampled at fractional frame positions (N,) -> (N, ...)."""
    lower, upper, frac = _bracket(positions, values.shape[0])
    frac = frac.reshape((-1,) + (1,) * (values.ndim - 1))
    return values[lower] * (1.0 - frac) + values[upper] * frac


def resample_axis_angle(rotations: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """rotations (T, ..., 3) axis-angle sampled at positions (N,) by slerp -> (N, ..., 3)."""
    lower, upper, frac = _bracket(positions, rotations.shape[0])
    quats = axis_angle_to_quaternion(rotations)
    frac = np.broadcast_to(frac.reshape((-1,) + (1,) * (rotations.ndim - 2)), quats[lower].shape[:-1])
    return quaternion_to_axis_angle(slerp(quats[lower], quats[upper], frac))
