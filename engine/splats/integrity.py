"""Whether an avatar is whole: its splat object, the driver mesh it is bound to, and the armature
that poses that mesh. A part deleted (by the user, a script, an append that missed it) leaves an
avatar the engine must not draw: without its driver mesh the Gaussians have nothing to sit on, and
without its armature the mesh, and so the avatar, falls back to its rest shape while the rest of the
scene moves. The engine skips such an avatar with this module's sentence; the panels show it.
"""

from __future__ import annotations

import bpy
from bpy.types import Object

from . import data as splat_data

FIX = "undo the deletion, or delete what is left with Delete Avatar (Splats panel)"


def _lost_armature(driver: Object) -> bool:
    """An Armature modifier whose armature is gone (Blender clears the pointer on deletion)."""
    return any(m.type == "ARMATURE" and getattr(m, "object", None) is None for m in driver.modifiers)


def avatar_problem(splat: Object) -> str | None:
    """One sentence on what is missing from the splat object's avatar, or None when it is whole."""
    props = splat_data.settings(splat)
    mesh = splat.data
    bound = isinstance(mesh, bpy.types.Mesh) and splat_data.ATTR_PARENT_FACE in mesh.attributes
    driver = props.driver
    if bound and driver is None:
        return f"'{splat.name}' lost the driver mesh its Gaussians sit on (deleted?): {FIX}."
    if driver is not None and _lost_armature(driver):
        return f"'{splat.name}': the armature that poses '{driver.name}' is gone (deleted?): {FIX}."
    return None
