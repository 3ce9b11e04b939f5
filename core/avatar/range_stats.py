"""The training range of an avatar's driving values, and the guard that keeps values inside it
(bpy-free, torch-free; the trainer calls ``compute_stats`` with numpy arrays at export).

Statistics per coefficient of the training frames' (refined) rig inputs: ``expression`` (E),
``pose`` (J*3 axis-angle, model joint order) and ``pose_features`` (9*(J-1) of ``R_j - I``, the
dynamics' pose input), each as rows ``STAT_ROWS`` (min, max, mean, std, 1st and 99th percentile).
They travel in the avatar header as ``range_statistics`` (docs/DESIGN.md, avatar file version 2).

The guard acts on the dynamics features ``f = [expression (E_dyn), pose features (P)]``:
- ``CLAMP``: each value clipped to [low, high];
- ``SOFT``: identity inside [low, high]; beyond an edge a tanh roll-off, ``edge + m tanh(excess / m)``
  (slope 1 at the edge, never more than m = softness * (high - low) past it);
where [low, high] is the training [min, max], stretched to include 0 (the neutral expression and
rest pose, where the dynamics add nothing), widened by ``margin`` times its width on each side.
Both leave values inside the range untouched. Coefficients that stayed at 0 in training are held
at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..rig.lbs import axis_angle_to_matrix

STAT_ROWS: tuple[str, ...] = ("min", "max", "mean", "std", "p01", "p99")
HEADER_KEY = "range_statistics"
GROUPS: tuple[str, ...] = ("expression", "pose", "pose_features")
GUARD_MODES: tuple[str, ...] = ("OFF", "CLAMP", "SOFT")
STD_FLOOR = 1e-6  # z-scores of coefficients that never moved use this spread
# Absolute slack at each edge: rig values read back from Blender carry float32 noise (a joint at
# rest gives R - I entries of about 1e-7), which must not count as leaving the range.
EDGE_TOLERANCE = 1e-5


class RangeStatsError(ValueError):
    """Statistics that cannot be used; one sentence."""


def pose_features_of(pose: np.ndarray) -> np.ndarray:
    """(T, J, 3) axis-angle -> (T, 9*(J-1)) pose features R_j - I of the joints after the root."""
    rot = axis_angle_to_matrix(np.asarray(pose, dtype=np.float64))
    return (rot[:, 1:] - np.eye(3)).reshape(rot.shape[0], -1)


def _rows(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.stack(
        [v.min(0), v.max(0), v.mean(0), v.std(0), np.percentile(v, 1, axis=0), np.percentile(v, 99, axis=0)]
    )


@dataclass(frozen=True)
class RangeStats:
    """frames: how many training frames; each group (len(STAT_ROWS), n)."""

    frames: int
    expression: np.ndarray
    pose: np.ndarray
    pose_features: np.ndarray

    def row(self, group: str, stat: str) -> np.ndarray:
        return np.asarray(getattr(self, group))[STAT_ROWS.index(stat)]

    def features(self, num_expression: int, num_pose_features: int) -> np.ndarray:
        """(len(STAT_ROWS), E_dyn + P) statistics of the dynamics features, in their order.

        Raises RangeStatsError when the avatar's dynamics use more coefficients than were recorded."""
        e, p = self.expression.shape[1], self.pose_features.shape[1]
        if num_expression > e or num_pose_features > p:
            raise RangeStatsError(
                f"the statistics cover {e} expression and {p} pose features, the dynamics use "
                f"{num_expression} and {num_pose_features}"
            )
        return np.concatenate(
            [self.expression[:, :num_expression], self.pose_features[:, :num_pose_features]], 1
        )

    def to_header(self) -> dict[str, Any]:
        def rows(a: np.ndarray) -> list[list[float]]:
            return np.asarray(a, dtype=np.float32).astype(np.float64).tolist()  # float32 digits are enough

        return {
            "rows": list(STAT_ROWS),
            "frames": int(self.frames),
            **{group: rows(getattr(self, group)) for group in GROUPS},
        }

    @classmethod
    def from_header(cls, data: Any) -> RangeStats:
        """Parses the header's ``range_statistics``; raises RangeStatsError when it is malformed."""
        if not isinstance(data, dict):
            raise RangeStatsError("range_statistics is not an object")
        if list(data.get("rows", [])) != list(STAT_ROWS):
            raise RangeStatsError(
                f"range_statistics rows are {data.get('rows')!r}, expected {list(STAT_ROWS)}"
            )
        arrays = {}
        for group in GROUPS:
            try:
                arr = np.asarray(data[group], dtype=np.float64)
            except (KeyError, TypeError, ValueError):
                raise RangeStatsError(f"range_statistics lacks a numeric '{group}'") from None
            if arr.ndim != 2 or arr.shape[0] != len(STAT_ROWS):
                raise RangeStatsError(f"range_statistics '{group}' has shape {arr.shape}")
            if not np.isfinite(arr).all():
                raise RangeStatsError(f"range_statistics '{group}' has NaN or infinite values")
            if (arr[1] < arr[0]).any() or (arr[3] < 0).any():
                raise RangeStatsError(f"range_statistics '{group}' has a max below its min or a negative std")
            arrays[group] = arr
        try:
            frames = int(data.get("frames", 0))
        except (TypeError, ValueError):
            raise RangeStatsError("range_statistics has a non-integer frame count") from None
        return cls(frames, **arrays)


def compute_stats(expression: np.ndarray, pose: np.ndarray) -> RangeStats:
    """Statistics of T training frames: expression (T, E) and pose (T, J, 3) axis-angle."""
    expr = np.asarray(expression, dtype=np.float64)
    pose = np.asarray(pose, dtype=np.float64)
    if expr.ndim != 2 or pose.ndim != 3 or pose.shape[2] != 3 or expr.shape[0] != pose.shape[0]:
        raise RangeStatsError(
            f"expected expression (T, E) and pose (T, J, 3); got {expr.shape} and {pose.shape}"
        )
    if expr.shape[0] == 0:
        raise RangeStatsError("no training frames to take statistics of")
    return RangeStats(
        frames=int(expr.shape[0]),
        expression=_rows(expr),
        pose=_rows(pose.reshape(pose.shape[0], -1)),
        pose_features=_rows(pose_features_of(pose)),
    )


# --- distance and guard --------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeReport:
    """How far one frame's values are from the training range."""

    max_z: float  # largest |value - mean| / std
    worst: int  # index of that coefficient
    outside: int  # coefficients outside [min, max]
    count: int
    max_excess: float  # largest distance beyond the range, in units of the range width


def bounds(stats: np.ndarray, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """[low, high] per coefficient: the training [min, max], stretched to hold 0, widened by margin
    times its width. Zero (the neutral expression, the rest pose) always counts as in range: there
    the dynamics add nothing, and a joint that always turned a little in training would otherwise
    put the rest pose outside (cos(angle) - 1 < 0 on the diagonal of R - I)."""
    low = np.minimum(stats[STAT_ROWS.index("min")], 0.0)
    high = np.maximum(stats[STAT_ROWS.index("max")], 0.0)
    widen = margin * (high - low) + EDGE_TOLERANCE
    return low - widen, high + widen


def report(values: np.ndarray, stats: np.ndarray, margin: float = 0.0) -> RangeReport:
    """values (n,) against stats (len(STAT_ROWS), n)."""
    v = np.asarray(values, dtype=np.float64)
    mean, std = stats[STAT_ROWS.index("mean")], stats[STAT_ROWS.index("std")]
    z = np.abs(v - mean) / np.maximum(std, STD_FLOOR)
    low, high = bounds(stats, margin)
    beyond = np.maximum(low - v, v - high)
    outside = beyond > 0
    width = np.maximum(high - low, STD_FLOOR)
    worst = int(np.argmax(z)) if z.size else 0
    return RangeReport(
        max_z=float(z.max()) if z.size else 0.0,
        worst=worst,
        outside=int(outside.sum()),
        count=int(v.size),
        max_excess=float(np.maximum(beyond, 0.0).max() / width[np.argmax(beyond)]) if v.size else 0.0,
    )


def furthest_outside(
    values: np.ndarray, stats: np.ndarray, margin: float = 0.0, limit: int = 5
) -> list[tuple[int, float, float, float]]:
    """Up to ``limit`` coefficients outside the range, furthest first (by excess over the range's
    width): (index, value, low, high)."""
    v = np.asarray(values, dtype=np.float64)
    low, high = bounds(stats, margin)
    excess = np.maximum(low - v, v - high) / np.maximum(high - low, STD_FLOOR)
    order = [int(i) for i in np.argsort(-excess, kind="stable") if excess[i] > 0][:limit]
    return [(i, float(v[i]), float(low[i]), float(high[i])) for i in order]


def soft_clamp(values: np.ndarray, low: np.ndarray, high: np.ndarray, softness: float) -> np.ndarray:
    """Identity inside [low, high]; beyond an edge, edge + m tanh(excess / m): slope 1 at the edge,
    never more than m = softness * (high - low) past it (softness 0: a hard clamp)."""
    v = np.asarray(values, dtype=np.float64)
    m = max(float(softness), 0.0) * (high - low)
    safe = np.where(m > 0, m, 1.0)
    above = high + m * np.tanh((v - high) / safe)
    below = low - m * np.tanh((low - v) / safe)
    return np.where(v > high, above, np.where(v < low, below, v))


def guard(
    values: np.ndarray, stats: np.ndarray, mode: str, softness: float = 0.1, margin: float = 0.0
) -> np.ndarray:
    """The values brought back into the training range by ``mode`` (OFF returns them unchanged)."""
    v = np.asarray(values, dtype=np.float64)
    if mode == "OFF":
        return v
    low, high = bounds(stats, margin)
    if mode == "CLAMP":
        return np.clip(v, low, high)
    if mode == "SOFT":
        return soft_clamp(v, low, high, softness)
    raise ValueError(f"unknown guard mode {mode!r}; expected one of {', '.join(GUARD_MODES)}")
