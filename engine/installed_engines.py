"""Which render engines this Blender has: the built-in ones and every registered add-on engine."""

from __future__ import annotations

import bpy

BUILT_IN = {"BLENDER_EEVEE", "BLENDER_EEVEE_NEXT", "BLENDER_WORKBENCH", "CYCLES"}


def available_engines() -> set[str]:
    """The RNA enum of ``RenderSettings.engine`` lists only the first built-in engine when read
    statically, so add-on engines are found as registered ``RenderEngine`` subclasses."""
    found = set(BUILT_IN)
    stack = list(bpy.types.RenderEngine.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "bl_idname", ""):
            found.add(cls.bl_idname)
    return found
