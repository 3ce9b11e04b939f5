"""The ranges a rig's expression sliders offer: what each value means, narrowed to what the bound
avatar was trained on.

A shape key's slider range is both what the slider shows and a hard limit on the value (Blender
clamps keys and drivers to it), so it is set from two things:
- meaning: ARKit-named expressions (the stand-in rigs) are weights in 0..1; PCA components (FLAME,
  SMPL-X's ``Exp000..``) are symmetric about 0 (+-SHAPE_SLIDER);
- training: when a splat object with range statistics is bound to the rig's driver mesh and the
  rig keeps to the training range, each slider is narrowed to the training range of its value
  (core/avatar/range_stats.bounds: the training min..max, stretched to include 0, widened by
  SLIDER_MARGIN of its width on each side). A value the avatar never moved in training is held at 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import bpy
import numpy as np
from bpy.types import Object

from ...core.avatar import range_stats
from ...core.avatar.range_stats import RangeStats
from ...core.motion import arkit
from ...engine.splats import data as splat_data
from ...engine.splats import range_guard
from . import naming
from .build import ARKIT_WEIGHT_RANGE, SHAPE_SLIDER
from .parts import RigParts

_MIN_WIDTH = 0.001  # Blender keeps slider_max at least this far above slider_min
# Room past each trained edge, as a fraction of the trained width: the statistics are of the
# trainer's refined values, and a dataset's own (unrefined) keys may sit a little beyond them.
SLIDER_MARGIN = 0.05


def bound_splat(parts: RigParts) -> Object | None:
    """The first splat object in the file bound to the rig's driver mesh."""
    for obj in bpy.data.objects:
        if splat_data.is_splat_object(obj) and splat_data.splat_driver(obj) == parts.mesh:
            return obj
    return None


def training_stats(parts: RigParts) -> RangeStats | None:
    """The bound avatar's training range, or None (no bound avatar, or one without statistics)."""
    splat = bound_splat(parts)
    return range_guard.stats_of(splat) if splat is not None else None


def keeps_range(parts: RigParts) -> bool:
    """Whether the rig's controls keep inside the training range (the Animate panel's toggle)."""
    return bool(parts.armature.gavatar_animate.limit_to_training)  # type: ignore[attr-defined]


def meaning_range(readable_name: str) -> tuple[float, float]:
    """The values an expression's name says it takes: 0..1 for ARKit weights, else symmetric."""
    if arkit.canonical_name(readable_name) is not None:
        return ARKIT_WEIGHT_RANGE
    return (-SHAPE_SLIDER, SHAPE_SLIDER)


def slider_ranges(names: Sequence[str], stats: RangeStats | None) -> np.ndarray:
    """(E, 2) [low, high] per expression: its meaning, narrowed by the training range when given
    (a value past the statistics' coefficients was never trained, so it is held at 0)."""
    out = np.array([meaning_range(name) for name in names], dtype=np.float64).reshape(-1, 2)
    if stats is None:
        return out
    trained = np.asarray(stats.expression)
    count = min(len(names), trained.shape[1])
    low, high = range_stats.bounds(trained[:, :count], SLIDER_MARGIN)
    out[:count, 0] = np.maximum(out[:count, 0], low)
    out[:count, 1] = np.minimum(out[:count, 1], high)
    out[count:] = 0.0
    out[:, 0] = np.minimum(out[:, 0], 0.0)  # 0 (the neutral face) stays reachable
    out[:, 1] = np.maximum(out[:, 1], out[:, 0] + _MIN_WIDTH)
    return out


def expression_names(parts: RigParts) -> list[str]:
    labels = [item.name for item in parts.info.expression_names]
    count = int(parts.info.num_expression)
    return [labels[i] if i < len(labels) else naming.expression_key(i) for i in range(count)]


def apply_slider_ranges(parts: RigParts) -> int:
    """Sets every expression key's slider range (see the module's note); returns how many were
    narrowed by the training range."""
    stats = training_stats(parts) if keeps_range(parts) else None
    names = expression_names(parts)
    ranges = slider_ranges(names, stats)
    natural = slider_ranges(names, None)
    blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    for i, (low, high) in enumerate(ranges):
        block = blocks.get(naming.expression_key(i))
        if block is None:
            continue
        block.slider_min = -SHAPE_SLIDER  # widest first: slider_max may not go below slider_min
        block.slider_max = float(high)
        block.slider_min = float(low)
    return int(np.count_nonzero(np.any(np.abs(ranges - natural) > 1e-9, axis=1)))


def clamp_to_sliders(parts: RigParts, values: np.ndarray) -> tuple[np.ndarray, int]:
    """(T, E) expression values clamped to their keys' slider ranges (Blender would clamp them
    silently), with how many changed."""
    blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    count = values.shape[1]
    low = np.full(count, -SHAPE_SLIDER)
    high = np.full(count, SHAPE_SLIDER)
    for i in range(count):
        block = blocks.get(naming.expression_key(i))
        if block is not None:
            low[i], high[i] = block.slider_min, block.slider_max
    clamped = np.clip(values, low, high)
    return clamped, int(np.count_nonzero(np.abs(clamped - values) > 1e-6))
