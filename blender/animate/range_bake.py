"""Bringing a rig's expression keys into the avatar's training range: the explicit, undoable
counterpart of the live guard, for users who want the driver mesh in range too.

The live guard leaves the rig alone; this rewrites the expression shape keys' F-curve keyframes
(and the current value of unkeyed expression keys) through the same clamp / soft maths. Keys are
linear between frames (as the importers write them), so keys inside the range keep the curve inside
it. Pose keys are left alone: the joints' ranges are per axis-angle component, which a clamp would
turn into rotations about other axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np
from bpy.types import Object

from ...core.avatar import range_stats
from ...engine.splats import data as splat_data
from ...engine.splats import range_guard
from ..rig import animation, naming
from ..rig.parts import RigParts, find_rig


class GuardBakeError(ValueError):
    """Why the keys cannot be brought into range; one sentence."""


@dataclass
class BakeResult:
    curves: int = 0
    keys_changed: int = 0
    values_changed: int = 0


def rig_of(obj: Object) -> RigParts:
    driver = splat_data.splat_driver(obj)
    parts = find_rig(driver) if driver is not None else None
    if parts is None:
        raise GuardBakeError(f"'{obj.name}' is not bound to an avatar rig.")
    return parts


def bake_expression_keys(obj: Object, mode: str, softness: float = 0.1, margin: float = 0.0) -> BakeResult:
    """Rewrites the rig's expression keys of splat object ``obj`` into its training range."""
    if mode not in ("CLAMP", "SOFT"):
        raise GuardBakeError("Choose Clamp or Soft to bring the keys into range.")
    stats = range_guard.stats_of(obj)
    if stats is None:
        raise GuardBakeError(f"'{obj.name}' has no training statistics (an older avatar file).")
    parts = rig_of(obj)
    key_id = parts.mesh.data.shape_keys  # type: ignore[union-attr]
    count = min(int(parts.info.num_expression), stats.expression.shape[1])
    if key_id is None or count == 0:
        raise GuardBakeError(f"'{parts.armature.name}' has no expression keys covered by the statistics.")
    rows = stats.expression[:, :count]
    result = BakeResult()
    curves = {fc.data_path: fc for fc in animation.action_fcurves(key_id)}
    blocks = key_id.key_blocks
    for i in range(count):
        block = blocks.get(naming.expression_key(i))
        if block is None:
            continue
        path = f'key_blocks["{block.name}"].value'
        column = rows[:, i : i + 1]
        fcurve = curves.get(path)
        if fcurve is None:
            value = np.array([block.value], dtype=np.float64)
            guarded = range_stats.guard(value, column, mode, softness, margin)
            if guarded[0] != value[0]:
                block.value = float(guarded[0])
                result.values_changed += 1
            continue
        points = fcurve.keyframe_points
        co = np.empty(len(points) * 2, dtype=np.float32)
        points.foreach_get("co", co)
        co = co.reshape(-1, 2)
        values = co[:, 1].astype(np.float64)
        guarded = range_stats.guard(values, np.repeat(column, len(values), axis=1), mode, softness, margin)
        changed = np.abs(guarded - values) > 1e-7
        result.curves += 1
        if changed.any():
            co[:, 1] = guarded
            points.foreach_set("co", co.ravel())
            fcurve.update()  # handles follow the moved keys
            result.keys_changed += int(changed.sum())
    bpy.context.view_layer.update()
    return result
