"""The expression range guard on splat objects: ``Object.gavatar_guard`` (saved with the .blend) and
what the engine and the panel need from it.

The training range comes from the avatar file's ``range_statistics``, kept in the splat object's
stored header (core/avatar/range_stats.py). The guard acts on the dynamics features (expression
and pose-corrective inputs of the Gaussians' blendshapes), after the dynamics influence: the driver
mesh keeps the values the animator keyed, so Gaussians stay on the mesh the user sees; only the
learned, linear appearance corrections, which extrapolate badly, are held to what training saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import bpy
import numpy as np
from bpy.props import EnumProperty, FloatProperty, PointerProperty
from bpy.types import Object, PropertyGroup

from ...core.avatar import range_stats
from ...core.avatar.range_stats import RangeStats, RangeStatsError
from ..registrar import class_registrar
from . import data as splat_data

MODE_ITEMS = [
    ("OFF", "Off", "Drive the Gaussians with the values as they are"),
    ("CLAMP", "Clamp", "Clip each value to the training range"),
    ("SOFT", "Soft", "Values beyond the training range approach its edge smoothly (tanh)"),
]


def _redraw(self: PropertyGroup, _context: bpy.types.Context) -> None:
    owner = self.id_data
    if isinstance(owner, Object):
        owner.update_tag(refresh={"OBJECT"})


class GAVATAR_RangeGuard(PropertyGroup):
    mode: EnumProperty(  # type: ignore[valid-type]
        name="Range Guard",
        description="Keep the expression and pose values that drive the Gaussians' dynamics inside the "
        "range the avatar saw in training",
        items=MODE_ITEMS,
        default="OFF",
        update=_redraw,
    )
    softness: FloatProperty(  # type: ignore[valid-type]
        name="Softness",
        description="How far past the range edge a value may go, as a fraction of the range's width",
        default=0.1,
        min=0.0,
        soft_max=0.5,
        update=_redraw,
    )
    margin: FloatProperty(  # type: ignore[valid-type]
        name="Margin",
        description="Widen the training range by this fraction of its width on each side",
        default=0.0,
        min=0.0,
        soft_max=0.5,
        update=_redraw,
    )


def guard_settings(obj: Object) -> GAVATAR_RangeGuard:
    return obj.gavatar_guard  # type: ignore[attr-defined,no-any-return]


@dataclass(frozen=True)
class GuardState:
    """What the engine applies: mode, softness, margin (a plain copy, read once per frame)."""

    mode: str = "OFF"
    softness: float = 0.1
    margin: float = 0.0

    def apply(self, features: np.ndarray, stats: np.ndarray | None) -> np.ndarray:
        if self.mode == "OFF" or stats is None:
            return features
        return range_stats.guard(features, stats, self.mode, self.softness, self.margin)


def state_of(obj: Object) -> GuardState:
    g = guard_settings(obj.original or obj)
    return GuardState(str(g.mode), float(g.softness), float(g.margin))


def stats_of(obj: Object) -> RangeStats | None:
    """The splat object's training range, or None (older avatars, static splats, damaged data)."""
    mesh = obj.data
    if not isinstance(mesh, bpy.types.Mesh) or mesh.get(splat_data.PROP_HEADER) is None:
        return None
    try:
        header = json.loads(str(mesh[splat_data.PROP_HEADER]))
        data = header.get(range_stats.HEADER_KEY) if isinstance(header, dict) else None
        return None if data is None else RangeStats.from_header(data)
    except (ValueError, RangeStatsError):
        return None


def feature_stats(obj: Object, num_expression: int, num_pose_features: int) -> np.ndarray | None:
    """(rows, E_dyn + P) statistics of the dynamics features, or None when unavailable."""
    stats = stats_of(obj)
    if stats is None:
        return None
    try:
        return stats.features(num_expression, num_pose_features)
    except RangeStatsError:
        return None


_register_classes, _unregister_classes = class_registrar((GAVATAR_RangeGuard,))


def register() -> None:
    _register_classes()
    Object.gavatar_guard = PointerProperty(type=GAVATAR_RangeGuard)  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    del Object.gavatar_guard  # type: ignore[attr-defined]
    _unregister_classes()
