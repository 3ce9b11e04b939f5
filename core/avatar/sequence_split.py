"""Which Gaussians of a baked sequence a frame must store (core/avatar/sequence_file.py, version 2).

A Gaussian is **still** when showing one value over time (``held_values``: its mean over the
frames) changes no pixel by more than ``tolerance``; it is stored once. Any other Gaussian is
**listed** at the frames where it is visible (opacity above ``tolerance``) and hidden at the rest.

The change is bounded per Gaussian and frame, in units of a pixel's alpha, by
``max(a_t, a_held) * min(1, sqrt(2 KL)) + |a_t - a_held|``: ``a`` the opacities and KL the
Kullback-Leibler divergence of the frame's 3D Gaussian from the held one. A camera sees a
projection of the 3D Gaussian (the rasterizer's linearised one, plus its screen-space blur), and
projecting or blurring both never increases their divergence; a Gaussian footprint moved by ``m``
of its standard deviations changes by at most about ``0.6 m``, and ``m = sqrt(2 KL)`` for a pure
move. Scales below ``floor`` (the file's position step) are raised to it: finer detail than the
file can place is not worth keeping a Gaussian per frame for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .quaternion import quat_normalize, quat_to_matrix
from .sequence_file import QUANT, FrameArrays

LOGIT_LIMIT = 30.0  # opacity logits are kept within +-30 (float16 holds them; sigmoid is 1e-13 off)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -LOGIT_LIMIT, LOGIT_LIMIT)))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1.0 / (1.0 + np.exp(LOGIT_LIMIT)), 1.0 / (1.0 + np.exp(-LOGIT_LIMIT)))
    return np.log(p / (1.0 - p))


def held_values(
    means: np.ndarray, quats: np.ndarray, log_scales: np.ndarray, opacity_logits: np.ndarray
) -> FrameArrays:
    """One value per Gaussian for (T, G, ...) frames: the mean over time (rotations brought to the
    middle frame's hemisphere first, opacity averaged as opacity). Summed frame by frame: a long
    sequence's frames are never copied whole."""
    t = len(opacity_logits)
    middle = quat_normalize(np.asarray(quats[t // 2], dtype=np.float64))
    sums = [np.zeros(np.shape(a)[1:]) for a in (means, quats, log_scales, opacity_logits)]
    for k in range(t):
        q = quat_normalize(np.asarray(quats[k], dtype=np.float64))
        sums[0] += means[k]
        sums[1] += q * np.where(np.einsum("gi,gi->g", q, middle) < 0, -1.0, 1.0)[:, None]
        sums[2] += log_scales[k]
        sums[3] += sigmoid(np.asarray(opacity_logits[k], dtype=np.float64))
    return FrameArrays(sums[0] / t, quat_normalize(sums[1]), sums[2] / t, logit(sums[3] / t))


def _inverse_frame(quats: np.ndarray, log_scales: np.ndarray, floor: float) -> np.ndarray:
    """S^-1 R^T per Gaussian: maps world offsets into a Gaussian's standard deviations."""
    scales = np.maximum(np.exp(np.asarray(log_scales, dtype=np.float64)), floor)
    return quat_to_matrix(np.asarray(quats, dtype=np.float64)).transpose(0, 2, 1) / scales[:, :, None]


def divergence(held: FrameArrays, frame: FrameArrays, floor: float) -> np.ndarray:
    """KL(frame || held) of each Gaussian's 3D normal distribution, (G,)."""
    to_held = _inverse_frame(held.quats, held.log_scales, floor)
    scales = np.maximum(np.exp(np.asarray(frame.log_scales, dtype=np.float64)), floor)
    spread = to_held @ (quat_to_matrix(np.asarray(frame.quats, dtype=np.float64)) * scales[:, None, :])
    trace = np.einsum("gij,gij->g", spread, spread)
    offset = np.einsum("gij,gj->gi", to_held, np.asarray(frame.means, dtype=np.float64) - held.means)
    held_scales = np.maximum(np.exp(np.asarray(held.log_scales, dtype=np.float64)), floor)
    log_det = 2.0 * (np.log(held_scales) - np.log(scales)).sum(-1)
    return np.maximum(0.5 * (trace + np.einsum("gi,gi->g", offset, offset) - 3.0 + log_det), 0.0)


@dataclass
class SequenceSplit:
    still: np.ndarray  # (G,) bool: stored once
    listed: np.ndarray  # (T, G) bool: stored at that frame
    change: np.ndarray  # (G,) the largest alpha change that holding the Gaussian still would make

    @property
    def listed_fraction(self) -> float:
        return float(self.listed.mean()) if self.listed.size else 0.0


def position_step(means: np.ndarray) -> float:
    """The largest step of the uint16 means in the box of ``means`` (T, G, 3)."""
    flat = np.reshape(means, (-1, 3))
    return float(np.max(flat.max(0).astype(np.float64) - flat.min(0))) / QUANT


def split_sequence(
    means: np.ndarray,
    quats: np.ndarray,
    log_scales: np.ndarray,
    opacity_logits: np.ndarray,
    tolerance: float,
) -> SequenceSplit:
    """Still and listed Gaussians of (T, G, ...) frames; ``tolerance`` <= 0 lists every one."""
    t, g = np.shape(opacity_logits)
    if tolerance <= 0:
        return SequenceSplit(np.zeros(g, bool), np.ones((t, g), bool), np.full(g, np.inf))
    held = held_values(means, quats, log_scales, opacity_logits)
    held_alpha = sigmoid(held.opacity_logits)
    floor = position_step(means)
    change = np.zeros(g)
    visible = np.zeros((t, g), bool)
    for k in range(t):
        alpha = sigmoid(np.asarray(opacity_logits[k], dtype=np.float64))
        visible[k] = alpha > tolerance
        frame = FrameArrays(means[k], quats[k], log_scales[k], opacity_logits[k])
        spread = np.minimum(1.0, np.sqrt(2.0 * divergence(held, frame, floor)))
        bound = np.maximum(alpha, held_alpha) * spread + np.abs(alpha - held_alpha)
        change = np.maximum(change, bound)
    still = change <= tolerance
    return SequenceSplit(still, visible & ~still[None], change)
