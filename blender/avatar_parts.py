"""An avatar as one thing: its splat objects, the driver mesh they sit on, the joint mesh and the
armature, and the collection Import Avatar / Add Avatar Rig put them in.

They move together (splat object -> driver mesh -> armature, by parenting), hide together (the
engine draws no driver mesh whose splat object is hidden) and delete together (``delete``, the
``gavatar.delete_avatar`` operator). ``gather`` finds the parts from any one of them, also when a
part was deleted by other means: then it finds what is left, so that can go too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
from bpy.types import Collection, Object

from ..engine.splats import data as splat_data
from .rig.parts import find_rig, rig_info

_RIG_ROLES = ("ARMATURE", "MESH", "JOINTS")


@dataclass
class AvatarParts:
    objects: list[Object] = field(default_factory=list)
    collection: Collection | None = None

    @property
    def name(self) -> str:
        if self.collection is not None:
            return self.collection.name
        return self.objects[0].name if self.objects else ""


def _is_part(obj: Object) -> bool:
    return splat_data.is_splat_object(obj) or rig_info(obj).role in _RIG_ROLES


def _avatar_collection(obj: Object) -> Collection | None:
    """The collection of obj that holds an avatar (a rig part), not the scene's own."""
    for collection in obj.users_collection:
        if collection.is_embedded_data:  # a scene's master collection
            continue
        if any(rig_info(o).role in _RIG_ROLES for o in collection.objects):
            return collection
    return None


def gather(obj: Object | None) -> AvatarParts | None:
    """Every part of the avatar obj belongs to (whichever part obj is), or None."""
    if obj is None or not _is_part(obj):
        return None
    found: dict[str, Object] = {}

    def add(part: Object | None) -> None:
        if part is not None and part.name not in found:
            found[part.name] = part

    add(obj)
    if splat_data.is_splat_object(obj):
        add(splat_data.splat_driver(obj))
    for part in list(found.values()):
        rig = find_rig(part)
        if rig is not None:
            for piece in (rig.armature, rig.mesh, rig.joints):
                add(piece)
        info = rig_info(part)
        add(info.armature)
    collection = _avatar_collection(obj) or next(
        (c for c in (_avatar_collection(p) for p in list(found.values())) if c is not None), None
    )
    if collection is not None:
        for part in collection.objects:
            if _is_part(part):
                add(part)
    drivers = {p.name for p in found.values() if rig_info(p).role == "MESH"}
    for candidate in bpy.data.objects:  # splat objects bound to the avatar's driver mesh
        driver = splat_data.splat_driver(candidate) if splat_data.is_splat_object(candidate) else None
        if driver is not None and driver.name in drivers:
            add(candidate)
    return AvatarParts(objects=list(found.values()), collection=collection)


def delete(parts: AvatarParts) -> int:
    """Removes every part (and the avatar's collection when nothing else is left in it); returns
    how many objects went."""
    count = 0
    for obj in parts.objects:
        data = obj.data
        bpy.data.objects.remove(obj)
        count += 1
        if isinstance(data, bpy.types.Mesh) and data.users == 0:
            bpy.data.meshes.remove(data)
        elif isinstance(data, bpy.types.Armature) and data.users == 0:
            bpy.data.armatures.remove(data)
    collection = parts.collection
    if collection is not None and not collection.objects and not collection.children:
        bpy.data.collections.remove(collection)
    return count
