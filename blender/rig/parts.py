"""Finding a rig's parts from any of its objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy
from bpy.types import Collection, Object


def rig_info(obj: Object) -> Any:
    """The object's ``gavatar_rig`` property group (typed loosely: it is registered at run time)."""
    return obj.gavatar_rig  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RigParts:
    armature: Object
    mesh: Object
    joints: Object
    collection: Collection | None

    @property
    def info(self) -> Any:
        """The rig's identity: family, model name/path/sha256, key counts, readable names."""
        return rig_info(self.armature)

    @property
    def family(self) -> str:
        return str(self.info.family)

    @property
    def joint_names(self) -> list[str]:
        return [item.name for item in self.info.joint_names]


def _child_with_role(armature: Object, role: str) -> Object | None:
    for child in armature.children:
        if rig_info(child).role == role:
            return child
    return None


def find_rig(obj: Object | None) -> RigParts | None:
    """The rig that obj belongs to (its armature, driver mesh, joint mesh or a child of one), or None."""
    seen = 0
    while obj is not None and seen < 8:
        info = rig_info(obj)
        if info.role == "ARMATURE":
            armature = obj
            break
        if info.role in {"MESH", "JOINTS"} and info.armature is not None:
            obj = info.armature
        else:
            obj = obj.parent
        seen += 1
    else:
        return None
    if armature.type != "ARMATURE":
        return None
    info = rig_info(armature)
    mesh = info.mesh if info.mesh is not None else _child_with_role(armature, "MESH")
    joints = info.joints if info.joints is not None else _child_with_role(armature, "JOINTS")
    if mesh is None or joints is None:
        return None
    return RigParts(armature=armature, mesh=mesh, joints=joints, collection=info.collection)


def active_rig(context: bpy.types.Context | None = None) -> RigParts | None:
    ctx = context or bpy.context
    return find_rig(ctx.active_object)
