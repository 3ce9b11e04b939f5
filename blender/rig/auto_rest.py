"""Keeps rigs' rest bones at the shaped joints when the user edits Shape keys.

A depsgraph handler notices changed shape-key blocks of rig meshes; the bake itself needs edit mode,
which is unsafe inside a depsgraph update, so it runs from a one-shot timer a moment later (also
coalescing a slider drag into one bake). The posed skeleton and the mesh never wait for it: they
follow the keys live through the joint mesh.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.types import Depsgraph, Key, Scene

from ...engine import hooks as handlers
from . import animation, naming
from .parts import RigParts, find_rig, rig_info
from .rest import bake_rest_joints, identity_joint_shift

DELAY = 0.3  # seconds after the last edit
TOLERANCE = 1e-6  # metres of joint movement worth a bake


def _animation_playing() -> bool:
    screen: Any = getattr(bpy.context, "screen", None)
    return bool(screen is not None and screen.is_animation_playing)


def _identity_animated(parts: RigParts) -> bool:
    """Shape keys that change over time: their rest joints cannot follow (the pose still does)."""
    key = parts.mesh.data.shape_keys  # type: ignore[union-attr]
    prefix = 'key_blocks["' + naming.shape_key(0)[:5]
    return any(
        fc.data_path.startswith(prefix) and len(fc.keyframe_points) > 1
        for fc in animation.action_fcurves(key)
    )


def stale_rigs() -> list[RigParts]:
    """Rigs with auto rest on whose rest bones lag behind their identity keys (and stay put in time)."""
    out = []
    for obj in bpy.data.objects:
        if obj.type != "ARMATURE" or rig_info(obj).role != "ARMATURE" or not rig_info(obj).auto_rest:
            continue
        parts = find_rig(obj)
        if parts is None or obj.library or _identity_animated(parts):
            continue
        if abs(identity_joint_shift(parts)).max(initial=0.0) > TOLERANCE:
            out.append(parts)
    return out


def bake_stale_rigs() -> float | None:
    """Timer callback: bakes every stale rig when Blender is in a mode that allows it. One-shot."""
    context: Any = bpy.context
    if context.mode not in {"OBJECT", "POSE"}:
        return None
    window = context.window or (context.window_manager.windows[0] if context.window_manager.windows else None)
    rigs = stale_rigs()
    for parts in rigs:
        if window is not None:
            with context.temp_override(window=window):
                bake_rest_joints(parts, bpy.context)
        else:
            bake_rest_joints(parts, context)
    if rigs and window is not None:
        with context.temp_override(window=window):
            bpy.ops.ed.undo_push(message="Update Rig Rest Joints")
    return None


def _rig_key_changed(depsgraph: Depsgraph) -> bool:
    for update in depsgraph.updates:
        key = update.id.original if update.id is not None else None
        if isinstance(key, Key) and key.user is not None:
            for obj in bpy.data.objects:
                if obj.data is key.user and rig_info(obj).role == "MESH":
                    return True
    return False


@bpy.app.handlers.persistent
def on_depsgraph_update(_scene: Scene, depsgraph: Depsgraph) -> None:
    if not depsgraph.id_type_updated("KEY") or _animation_playing():
        return
    if _rig_key_changed(depsgraph) and stale_rigs():
        handlers.add_timer(bake_stale_rigs, first_interval=DELAY)


def register() -> None:
    handlers.add_app_handler("depsgraph_update_post", on_depsgraph_update)


def unregister() -> None:
    pass  # engine.hooks removes every hook it registered
