"""Which rig an animation operator works on (a named armature, the active rig, or a new one), and
which splat object the range guard panel and operators work on."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import bpy
from bpy.types import Context, Object

from ...engine.splats import data as splat_data
from ..rig import build, model_source, naming
from ..rig.parts import RigParts, active_rig, find_rig, rig_info
from .errors import AnimateError


@dataclass
class FoundRig:
    parts: RigParts
    created: bool = False

    def discard(self) -> None:
        """Removes a rig this lookup built (after a failed import); leaves existing rigs alone."""
        if not self.created:
            return
        parts = self.parts
        for obj in (parts.mesh, parts.joints, parts.armature):
            data = obj.data
            bpy.data.objects.remove(obj)
            if isinstance(data, bpy.types.Mesh):
                bpy.data.meshes.remove(data)
            elif isinstance(data, bpy.types.Armature):
                bpy.data.armatures.remove(data)
        if parts.collection is not None:
            bpy.data.collections.remove(parts.collection)


def scene_rigs(context: Context, families: Collection[str]) -> list[RigParts]:
    out = []
    for obj in context.scene.objects:
        if obj.type == "ARMATURE" and rig_info(obj).role == "ARMATURE":
            parts = find_rig(obj)
            if parts is not None and parts.family in families:
                out.append(parts)
    return out


def named_rig(name: str, families: Collection[str], what: str) -> RigParts:
    obj = bpy.data.objects.get(name)
    if obj is None:
        raise AnimateError(f"There is no object named '{name}'.")
    parts = find_rig(obj)
    if parts is None:
        raise AnimateError(f"'{name}' is not part of an avatar rig (add one with Add > Avatar Rig).")
    if parts.family not in families:
        label = naming.family_label(parts.family)
        raise AnimateError(f"'{name}' is a {label} rig; {what}.")
    return parts


def new_rig(context: Context, family: str, models: model_source.ModelFiles) -> RigParts:
    """Builds a rig from the preferences' model file, else the free stand-in."""
    from ...core.rig.errors import ModelFileError

    try:
        path = model_source.resolve_model_path(
            family, "", models.preference(family), "NEUTRAL", models.cache_dir
        )
        model = model_source.load(family, path)
    except (model_source.ModelSourceError, ModelFileError) as exc:
        raise AnimateError(f"No rig to animate, and a new one cannot be made: {exc}") from None
    return build.build_rig(model, context, model_path=str(path))


def body_rig_for_import(context: Context, target: str, models: model_source.ModelFiles) -> FoundRig:
    """The named rig, else the active body rig, else the only body rig in the scene, else a new SMPL-X rig."""
    families = ("SMPLX", "SMPLH")
    what = "AMASS clips drive SMPL-X or SMPL-H body rigs"
    if target:
        return FoundRig(named_rig(target, families, what))
    active = active_rig(context)
    if active is not None and active.family in families:
        return FoundRig(active)
    rigs = scene_rigs(context, families)
    if len(rigs) == 1:
        return FoundRig(rigs[0])
    if len(rigs) > 1:
        names = ", ".join(p.armature.name for p in rigs)
        raise AnimateError(
            f"Several body rigs are in the scene ({names}); select one or name it as the target."
        )
    return FoundRig(new_rig(context, "SMPLX", models), created=True)


def face_rig(context: Context, target: str) -> RigParts:
    """The named or active FLAME / SMPL-X rig for face animation."""
    families = ("FLAME", "SMPLX")
    what = "face motion drives FLAME head rigs or SMPL-X bodies"
    if target:
        return named_rig(target, families, what)
    active = active_rig(context)
    if active is None:
        rigs = scene_rigs(context, families)
        if len(rigs) == 1:
            return rigs[0]
        raise AnimateError("Select the head rig to animate, or name it as the target.")
    if active.family not in families:
        raise AnimateError(f"'{active.armature.name}' is a {naming.family_label(active.family)} rig; {what}.")
    return active


def guarded_splat(context: Context) -> Object | None:
    """The active splat object, else the first splat object bound to the active rig's mesh."""
    obj = context.active_object
    if obj is None:
        return None
    if splat_data.is_splat_object(obj):
        return obj
    parts = find_rig(obj)
    if parts is None:
        return None
    for candidate in context.scene.objects:  # type: ignore[union-attr]
        if splat_data.is_splat_object(candidate) and splat_data.splat_driver(candidate) == parts.mesh:
            return candidate
    return None
