"""A small loss / PSNR plot as RGBA pixels, drawn with numpy (no plotting library in Blender).

Loss (log scale, orange) and PSNR (blue) share the x axis (iterations); each curve is scaled to
its own range, which ``PlotRanges`` returns for the labels beside the plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BACKGROUND = (0.11, 0.11, 0.11, 1.0)
GRID = (0.22, 0.22, 0.22, 1.0)
LOSS_COLOUR = (1.0, 0.55, 0.15, 1.0)
PSNR_COLOUR = (0.35, 0.7, 1.0, 1.0)
MARGIN = 3  # pixels kept free around the curves


@dataclass(frozen=True)
class PlotRanges:
    iterations: tuple[int, int]
    loss: tuple[float, float] | None
    psnr: tuple[float, float] | None


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _scaled(values: np.ndarray, lo: float, hi: float, size: int) -> np.ndarray:
    """Values -> pixel rows (0 = top), the range spanning the height minus the margins."""
    span = hi - lo if hi > lo else 1.0
    t = (values - lo) / span if hi > lo else np.full_like(values, 0.5)
    return (size - 1 - MARGIN) - t * (size - 1 - 2 * MARGIN)


def _draw_polyline(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, colour: Sequence[float]) -> None:
    """A curve through (xs, ys) (xs increasing), one column at a time: each pixel column is filled
    between the curve's heights at its two edges, so steep parts stay connected. Columns whose
    nearest point has no value (NaN) stay empty. Vectorised: no Python loop over points."""
    height, width = image.shape[:2]
    ok = np.isfinite(ys)
    if not ok.any():
        return
    lo_col, hi_col = int(np.floor(xs.min())), int(np.ceil(xs.max()))
    cols = np.arange(max(lo_col, 0), min(hi_col, width - 1) + 1)
    edges = np.concatenate([cols - 0.5, cols[-1:] + 0.5])
    heights = np.interp(np.clip(edges, xs.min(), xs.max()), xs[ok], ys[ok])
    nearest = np.clip(np.searchsorted(xs, cols), 0, len(xs) - 1)
    valid = ok[nearest]
    top = np.minimum(heights[:-1], heights[1:]) - 0.5
    bottom = np.maximum(heights[:-1], heights[1:]) + 0.5
    rows = np.arange(height)[:, None]
    mask = (rows >= np.floor(top)[None]) & (rows <= np.ceil(bottom)[None]) & valid[None]
    image[:, cols[0] : cols[-1] + 1][mask] = colour  # a slice: a view, written in place


def render_plot(
    history: Sequence[tuple[int, float, float]], width: int = 200, height: int = 100
) -> tuple[np.ndarray, PlotRanges]:
    """(H, W, 4) float32 RGBA, row 0 at the top, and the ranges drawn."""
    image = np.empty((height, width, 4), dtype=np.float32)
    image[:] = BACKGROUND
    for k in range(1, 4):  # quarter lines
        image[round(k * (height - 1) / 4), :] = GRID
    if not history:
        return image, PlotRanges((0, 0), None, None)
    rows = np.asarray([(h[0], h[1], h[2]) for h in history], dtype=np.float64)
    its = rows[:, 0]
    first, last = float(its.min()), float(its.max())
    span = last - first if last > first else 1.0
    xs = MARGIN + (its - first) / span * (width - 1 - 2 * MARGIN)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_loss = np.where(rows[:, 1] > 0, np.log10(rows[:, 1]), np.nan)
    for values, colour in ((log_loss, LOSS_COLOUR), (rows[:, 2], PSNR_COLOUR)):
        finite = _finite(values)
        if finite.size:
            _draw_polyline(
                image, xs, _scaled(values, float(finite.min()), float(finite.max()), height), colour
            )
    return image, ranges_of(history)


def ranges_of(history: Sequence[tuple[int, float, float]]) -> PlotRanges:
    """The ranges render_plot would draw, without drawing (for labels)."""
    if not history:
        return PlotRanges((0, 0), None, None)
    rows = np.asarray([(h[0], h[1], h[2]) for h in history], dtype=np.float64)
    loss = rows[:, 1][np.isfinite(rows[:, 1]) & (rows[:, 1] > 0)]
    psnr = _finite(rows[:, 2])
    return PlotRanges(
        (int(rows[:, 0].min()), int(rows[:, 0].max())),
        (float(loss.min()), float(loss.max())) if loss.size else None,
        (float(psnr.min()), float(psnr.max())) if psnr.size else None,
    )


def describe_ranges(ranges: PlotRanges) -> list[str]:
    """Legend lines for the plot's labels."""
    out = []
    if ranges.loss is not None:
        out.append(f"Loss {_short(ranges.loss[0])}..{_short(ranges.loss[1])} (orange, log)")
    if ranges.psnr is not None:
        out.append(f"PSNR {ranges.psnr[0]:.1f}..{ranges.psnr[1]:.1f} dB (blue)")
    return out


def _short(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"
