"""An eye target: an empty the eyes follow (Damped Track on each eye bone), movable and keyable."""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np
from bpy.types import Context, Object
from mathutils import Matrix

from ..rig.parts import RigParts
from .errors import AnimateError

CONSTRAINT = "Eye Target"
DEFAULT_DISTANCE = 0.6  # metres in front of the eyes


def eye_bones(parts: RigParts) -> list[str]:
    return [n for n in parts.joint_names if "eye" in n]


def _constraints(parts: RigParts) -> list[Any]:
    bones = parts.armature.pose.bones  # type: ignore[union-attr]
    return [c for n in eye_bones(parts) for c in bones[n].constraints if c.name == CONSTRAINT]


def eye_target(parts: RigParts) -> Object | None:
    for constraint in _constraints(parts):
        if constraint.target is not None:
            return constraint.target
    return None


def eye_constraints(parts: RigParts) -> list[Any]:
    return _constraints(parts)


def add_eye_target(context: Context, parts: RigParts, distance: float = DEFAULT_DISTANCE) -> Object:
    """An empty in front of the eyes (parented to the rig object), tracked by both eye bones."""
    eyes = eye_bones(parts)
    if not eyes:
        raise AnimateError(f"'{parts.armature.name}' has no eye bones.")
    existing = eye_target(parts)
    if existing is not None:
        return existing
    armature = parts.armature
    evaluated = armature.evaluated_get(context.evaluated_depsgraph_get())
    world = np.array(evaluated.matrix_world, dtype=np.float64)
    heads = [world[:3, :3] @ np.array(evaluated.pose.bones[n].head) + world[:3, 3] for n in eyes]  # type: ignore[union-attr]
    looks = [world[:3, :3] @ np.array(evaluated.pose.bones[n].matrix)[:3, 1] for n in eyes]  # type: ignore[union-attr]
    forward = np.mean(looks, axis=0)
    forward /= max(float(np.linalg.norm(forward)), 1e-9)
    position = np.mean(heads, axis=0) + distance * forward
    empty = bpy.data.objects.new(f"{armature.name} Eye Target", None)
    empty.empty_display_type = "SPHERE"
    empty.empty_display_size = 0.03
    collection = parts.collection or context.scene.collection
    collection.objects.link(empty)
    empty.parent = armature
    empty.matrix_world = Matrix.Translation(position.tolist())
    for name in eyes:
        constraint = armature.pose.bones[name].constraints.new("DAMPED_TRACK")  # type: ignore[union-attr]
        constraint.name = CONSTRAINT
        constraint.target = empty  # type: ignore[attr-defined]
        constraint.track_axis = "TRACK_Y"  # type: ignore[attr-defined]  # eye bones look along +Y
    return empty


def remove_eye_target(parts: RigParts, delete_empty: bool = True) -> bool:
    empty = eye_target(parts)
    bones = parts.armature.pose.bones  # type: ignore[union-attr]
    removed = False
    for name in eye_bones(parts):
        for constraint in [c for c in bones[name].constraints if c.name == CONSTRAINT]:
            bones[name].constraints.remove(constraint)
            removed = True
    if delete_empty and empty is not None:
        bpy.data.objects.remove(empty)
    return removed
