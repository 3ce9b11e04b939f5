"""Moving the armature's rest pose to the joints of the current identity (shape keys + static offset).

The posed skeleton already follows shape and expression live (the joint mesh and the Joint Shift
constraints); baking moves the *rest* bones there too, so edit mode, Rest Position and exporters
that read rest bones see the shaped skeleton. Baking never changes the deformed result: the joint
mesh is shifted by the same amount in the same step, so rest + shift stays where it was.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy.types import Context
from mathutils import Vector

from . import mesh_data, naming
from .build import bone_rest_frames
from .parts import RigParts

_EXPRESSION_PREFIX = naming.expression_key(0)[:3]


def identity_joint_shift(parts: RigParts) -> np.ndarray:
    """How far (model axes, (J,3)) the identity keys at their current values move each joint from rest."""
    joint_keys = parts.joints.data.shape_keys  # type: ignore[union-attr]
    mesh_keys = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    blocks = joint_keys.key_blocks
    basis = mesh_data.shape_key_coords(blocks[naming.BASIS_KEY]).astype(np.float64)
    shift = basis.copy()
    for block in blocks[1:]:
        if block.name.startswith(_EXPRESSION_PREFIX):
            continue
        source = mesh_keys.get(block.name)
        value = source.value if source is not None else 0.0
        if value:
            shift += value * (mesh_data.shape_key_coords(block).astype(np.float64) - basis)
    _, frames = bone_rest_frames(parts.armature, parts.joint_names)
    return np.einsum("jab,jb->ja", frames, shift)


def bake_rest_joints(parts: RigParts, context: Context | None = None, tolerance: float = 1e-7) -> float:
    """Moves the rest bones to the current identity's joints; returns the largest move (metres)."""
    ctx = context or bpy.context
    shift = identity_joint_shift(parts)
    largest = float(np.abs(shift).max(initial=0.0))
    if largest < tolerance:
        return 0.0
    names = parts.joint_names
    armature = parts.armature
    # Shift every joint-mesh key by the same amount so that the rest + shift sum stays put.
    _, frames = bone_rest_frames(armature, names)
    in_bone_axes = np.einsum("jba,jb->ja", frames, shift)
    for block in parts.joints.data.shape_keys.key_blocks:  # type: ignore[union-attr]
        coords = mesh_data.shape_key_coords(block).astype(np.float64) - in_bone_axes
        mesh_data.key_points(block).foreach_set("co", coords.astype(np.float32).ravel())
    joints_mesh = parts.joints.data
    coords = mesh_data.vertex_coords(joints_mesh).astype(np.float64) - in_bone_axes  # type: ignore[arg-type]
    joints_mesh.vertices.foreach_set("co", coords.astype(np.float32).ravel())  # type: ignore[union-attr]
    joints_mesh.update()  # type: ignore[union-attr]
    _move_rest_bones(ctx, parts, shift)
    return largest


def _move_rest_bones(ctx: Context, parts: RigParts, shift: np.ndarray) -> None:
    armature = parts.armature
    view_layer = ctx.view_layer
    previous_active = view_layer.objects.active
    previous_mode = ctx.mode
    if previous_mode not in {"OBJECT", "POSE"} and previous_active is not None:
        bpy.ops.object.mode_set(mode="OBJECT")
    hidden = armature.hide_get(view_layer=view_layer)
    armature.hide_set(False, view_layer=view_layer)
    view_layer.objects.active = armature
    with ctx.temp_override(active_object=armature, object=armature, selected_objects=[armature]):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            edit_bones = armature.data.edit_bones  # type: ignore[union-attr]
            for name, move in zip(parts.joint_names, shift, strict=True):
                for bone_name in (name, naming.deform_bone(name)):
                    edit_bones[bone_name].translate(Vector(move.tolist()))
        finally:
            bpy.ops.object.mode_set(mode="POSE" if previous_mode == "POSE" else "OBJECT")
    view_layer.objects.active = previous_active
    armature.hide_set(hidden, view_layer=view_layer)
