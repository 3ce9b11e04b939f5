"""ARKit weights -> a rig's expression coefficients, and ARKit clips at a new frame rate (bpy-free).

Two ways a rig takes ARKit weights:
- **by name**: the rig's expressions carry ARKit names (the stand-in FLAME's 52 facial actions):
  weight ``jawOpen`` sets the expression named ``jawOpen``; names match as ``canonical_name`` says.
- **a mapping table** ``M`` (52, E) in ``ARKIT_NAMES`` order: coefficients = weights @ M. The table
  can be fitted by least squares from a rig that has both (see ``fit_from_shapes`` and
  ``fit_from_pairs``).

Head and eye rotations (yaw, pitch, roll) become axis-angle rotations in the model's axes (Y up,
X to the face's left, Z out of the face: ARKit's face-anchor axes): ``R = Ry(yaw) Rx(pitch) Rz(roll)``.
Resampling works like AMASS's: weights linearly, rotations by slerp, at the clip's own sample times
(capture apps drop and repeat frames, so the times are not assumed regular).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..rig.lbs import axis_angle_to_matrix
from ..rotations import matrix_to_axis_angle
from ..untrusted.numbers import MAX_KEYFRAMES
from .arkit import ARKIT_NAMES, ArkitClip, canonical_name
from .errors import MotionFileError
from .resample import resample_axis_angle, resample_linear


def name_map(expression_names: list[str] | tuple[str, ...]) -> dict[str, int]:
    """ARKit name -> the rig's expression index, for rig expressions named after ARKit shapes."""
    out: dict[str, int] = {}
    for index, name in enumerate(expression_names):
        canonical = canonical_name(name)
        if canonical is not None and canonical not in out:
            out[canonical] = index
    return out


def matrix_from_names(expression_names: list[str] | tuple[str, ...], num_expression: int) -> np.ndarray:
    """The (52, E) table of a by-name rig: one 1 per ARKit name the rig has."""
    table = np.zeros((len(ARKIT_NAMES), num_expression))
    for name, index in name_map(expression_names).items():
        if index < num_expression:
            table[ARKIT_NAMES.index(name), index] = 1.0
    return table


@dataclass(frozen=True)
class Fit:
    """A fitted table and how well it reproduces what it was fitted to."""

    matrix: np.ndarray  # (52, E)
    relative_residual: np.ndarray  # (52,) |fit - target| / |target| per ARKit name (0 where target is 0)
    fitted: tuple[str, ...] = field(default_factory=tuple)  # the ARKit names the source had

    @property
    def worst(self) -> float:
        return float(self.relative_residual.max()) if self.relative_residual.size else 0.0


def _solve(a: np.ndarray, b: np.ndarray, ridge: float) -> np.ndarray:
    """argmin_x |a x - b|² + ridge |x|² (lstsq without ridge; ridge keeps ill-posed bases tame)."""
    if ridge <= 0:
        return np.linalg.lstsq(a, b, rcond=None)[0]
    gram = a.T @ a
    scale = float(np.trace(gram)) / max(gram.shape[0], 1)
    return np.linalg.solve(gram + ridge * scale * np.eye(gram.shape[0]), a.T @ b)


def fit_from_shapes(
    source_dirs: np.ndarray,
    source_names: list[str] | tuple[str, ...],
    target_dirs: np.ndarray,
    ridge: float = 0.0,
) -> Fit:
    """Table fitted from vertex displacements on one topology.

    source_dirs (V, 3, S): each source expression's displacement at weight 1 (a rig whose
    expressions carry ARKit names); target_dirs (V, 3, E): the target rig's expression basis on the
    same vertices. Each ARKit shape becomes the target coefficients whose displacement is closest in
    the least-squares sense (``ridge`` > 0 adds Tikhonov damping relative to the basis' scale).
    """
    src = np.asarray(source_dirs, dtype=np.float64)
    tgt = np.asarray(target_dirs, dtype=np.float64)
    if src.ndim != 3 or tgt.ndim != 3 or src.shape[:2] != tgt.shape[:2]:
        raise ValueError(
            "the source and target bases must be (V, 3, n) on the same vertices; "
            f"got {src.shape} and {tgt.shape}"
        )
    mapping = name_map(source_names)
    if not mapping:
        raise ValueError("the source rig has no expression named after an ARKit shape")
    names = tuple(n for n in ARKIT_NAMES if n in mapping)
    a = tgt.reshape(-1, tgt.shape[2])
    b = np.stack([src[:, :, mapping[n]].reshape(-1) for n in names], axis=1)
    x = _solve(a, b, ridge)  # (E, n)
    matrix = np.zeros((len(ARKIT_NAMES), tgt.shape[2]))
    residual = np.zeros(len(ARKIT_NAMES))
    for j, name in enumerate(names):
        row = ARKIT_NAMES.index(name)
        matrix[row] = x[:, j]
        norm = np.linalg.norm(b[:, j])
        residual[row] = np.linalg.norm(a @ x[:, j] - b[:, j]) / norm if norm > 0 else 0.0
    return Fit(matrix, residual, names)


def fit_from_pairs(weights: np.ndarray, coefficients: np.ndarray, ridge: float = 0.0) -> Fit:
    """Table fitted from paired frames: ARKit weights (T, 52) and the target's coefficients (T, E)
    of the same moments (say the same video tracked both ways). Needs T >= the shapes that move."""
    w = np.asarray(weights, dtype=np.float64)
    c = np.asarray(coefficients, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != len(ARKIT_NAMES) or c.ndim != 2 or c.shape[0] != w.shape[0]:
        raise ValueError(f"expected weights (T, 52) and coefficients (T, E); got {w.shape} and {c.shape}")
    used = np.flatnonzero(np.abs(w).max(axis=0) > 0)
    if used.size == 0:
        raise ValueError("the paired weights are all zero")
    x = _solve(w[:, used], c, ridge)  # (n, E)
    matrix = np.zeros((len(ARKIT_NAMES), c.shape[1]))
    matrix[used] = x
    pred = w @ matrix
    norm = np.linalg.norm(c)
    rel = np.linalg.norm(pred - c) / norm if norm > 0 else 0.0
    residual = np.zeros(len(ARKIT_NAMES))
    residual[used] = rel
    return Fit(matrix, residual, tuple(ARKIT_NAMES[i] for i in used))


# --- rotations and resampling ----------------------------------------------------------------


def euler_to_axis_angle(ypr: np.ndarray) -> np.ndarray:
    """(..., 3) yaw (about Y), pitch (about X), roll (about Z), radians -> axis-angle (..., 3),
    R = Ry(yaw) Rx(pitch) Rz(roll)."""
    v = np.asarray(ypr, dtype=np.float64)
    zeros = np.zeros(v.shape[:-1])

    def about(axis: int, angle: np.ndarray) -> np.ndarray:
        aa = np.stack([zeros, zeros, zeros], axis=-1)
        aa[..., axis] = angle
        return axis_angle_to_matrix(aa)

    rot = about(1, v[..., 0]) @ about(0, v[..., 1]) @ about(2, v[..., 2])
    return matrix_to_axis_angle(rot)


@dataclass(frozen=True)
class ArkitFrames:
    """A clip at a regular frame rate: weights (N, 52) in ARKIT_NAMES order (zeros for names the
    clip lacks), rotations part -> (N, 3) axis-angle, and which ARKit names the clip had."""

    weights: np.ndarray
    rotations: dict[str, np.ndarray]
    fps: float
    present: tuple[str, ...]

    @property
    def num_frames(self) -> int:
        return int(self.weights.shape[0])


def resample_clip(
    clip: ArkitClip, target_fps: float, start: float = 0.0, end: float | None = None
) -> ArkitFrames:
    """The clip at target_fps from ``start`` to ``end`` seconds of the clip (end None: its end)."""
    if not target_fps > 0:
        raise MotionFileError(f"The frame rate must be positive, not {target_fps}.")
    last = clip.duration if end is None or end < 0 else min(end, clip.duration)
    if not 0.0 <= start <= last:
        raise MotionFileError(
            f"The time range {start:g}..{last:g} s is outside the clip's 0..{clip.duration:g} s."
        )
    exact = (last - start) * target_fps
    if exact >= MAX_KEYFRAMES:
        raise MotionFileError(
            f"The clip's {last - start:.4g} s at {target_fps:g} fps is more than {MAX_KEYFRAMES} frames."
        )
    count = int(np.floor(exact + 1e-6)) + 1
    times = start + np.arange(count) / target_fps
    positions = np.interp(times, clip.times, np.arange(clip.num_frames, dtype=np.float64))
    weights = resample_linear(clip.dense(), positions)
    rotations = {
        part: resample_axis_angle(euler_to_axis_angle(ypr), positions) for part, ypr in clip.rotations.items()
    }
    return ArkitFrames(weights, rotations, float(target_fps), clip.names)
