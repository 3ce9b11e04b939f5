"""Bulk keyframes on any datablock, for Blender 4.2 (legacy actions) and 4.4+ (slotted actions)."""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np
from bpy.types import ID, Action, FCurve


def ensure_action(id_data: ID, name: str) -> Action:
    owner: Any = id_data
    anim = owner.animation_data or owner.animation_data_create()
    assert anim is not None
    if anim.action is None:
        anim.action = bpy.data.actions.new(name)
    return anim.action


def ensure_fcurve(id_data: ID, action: Action, data_path: str, index: int = 0, group: str = "") -> FCurve:
    act: Any = action
    if hasattr(act, "fcurve_ensure_for_datablock"):  # Blender 4.4+: layered actions with slots
        return act.fcurve_ensure_for_datablock(id_data, data_path, index=index, group_name=group)
    fcurve = act.fcurves.find(data_path, index=index)
    if fcurve is None:
        fcurve = act.fcurves.new(data_path, index=index, action_group=group)
    return fcurve


def _linear_value() -> int:
    items = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items  # type: ignore[attr-defined]
    return int(items["LINEAR"].value)


class NonFiniteKeysError(ValueError):
    """Values to key that are NaN or infinite in float32 (what Blender stores): refused, never keyed."""


def check_finite_keys(frames: np.ndarray, values: np.ndarray, what: str) -> None:
    """Raise NonFiniteKeysError unless every frame and value is finite as a float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        ok = (
            np.isfinite(np.asarray(frames, dtype=np.float32)).all()
            and np.isfinite(np.asarray(values, dtype=np.float32)).all()
        )
    if not ok:
        raise NonFiniteKeysError(
            f"The values for {what} are NaN, infinite or beyond float32's range, so nothing was keyed."
        )


def set_keys(fcurve: FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Keys (frame, value) with linear interpolation; existing keys inside the frames' span are replaced.
    NaN or infinite values (in float32 terms) raise NonFiniteKeysError before anything is keyed."""
    check_finite_keys(frames, values, f"'{fcurve.data_path}'")
    points = fcurve.keyframe_points
    old = np.empty(len(points) * 2, dtype=np.float32)
    points.foreach_get("co", old)
    old = old.reshape(-1, 2)
    keep = old[(old[:, 0] < frames.min() - 0.5) | (old[:, 0] > frames.max() + 0.5)]
    merged = np.concatenate([keep, np.stack([frames, values], axis=1).astype(np.float32)])
    merged = merged[np.argsort(merged[:, 0], kind="stable")]
    points.clear()
    points.add(merged.shape[0])
    points.foreach_set("co", merged.ravel())
    interpolation = np.full(merged.shape[0], _linear_value(), dtype=np.int32)
    points.foreach_set("interpolation", interpolation)
    fcurve.update()


def action_fcurves(id_data: ID | None) -> list[FCurve]:
    """The F-curves of the action assigned to id_data (its slot's, for layered actions)."""
    owner: Any = id_data
    anim = owner.animation_data if owner is not None else None
    if anim is None or anim.action is None:
        return []
    action: Any = anim.action
    if not hasattr(action, "layers") or getattr(action, "is_action_legacy", False):
        return list(action.fcurves)
    slot = getattr(anim, "action_slot", None)
    out: list[FCurve] = []
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot) if slot is not None else None
            if bag is not None:
                out.extend(bag.fcurves)
    return out
