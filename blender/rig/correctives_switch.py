"""Switching a rig's live pose correctives on and off (for fast playback while animating)."""

from __future__ import annotations

from bpy.types import Object

from . import naming
from .parts import find_rig

_PREFIX = naming.corrective_key("", 0, 0).split(".")[0] + "."  # "Pose."


def set_correctives_live(armature: Object, live: bool) -> int:
    """Mutes (live=False) or unmutes the rig's corrective keys and drivers; returns how many keys."""
    parts = find_rig(armature)
    if parts is None or parts.mesh.data.shape_keys is None:  # type: ignore[union-attr]
        return 0
    key = parts.mesh.data.shape_keys  # type: ignore[union-attr]
    changed = 0
    for block in key.key_blocks:
        if block.name.startswith(_PREFIX):
            block.mute = not live
            changed += 1
    if key.animation_data is not None:
        for fcurve in key.animation_data.drivers:
            if fcurve.data_path.startswith(f'key_blocks["{_PREFIX}'):
                fcurve.mute = not live
    return changed
