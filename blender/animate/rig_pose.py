"""Reading and keying a rig's joints by name, in model terms (SMPL convention rotations).

The rig's control bone j has rest orientation B_j; a model-space joint rotation R (relative to the
parent, about the joint) is the bone's local rotation B_j^T R B_j (core.rig.bone_frames).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import bpy
import numpy as np
from bpy.types import Action, Depsgraph, Object, Scene

from ...core import rotations
from ...core.rig import bone_frames
from ..rig import animation, bone_rotation
from ..rig.build import bone_rest_frames
from ..rig.parts import RigParts


def shaped_rest_joints(parts: RigParts, depsgraph: Depsgraph | None = None) -> np.ndarray:
    """(J,3) rest joints of the rig's current identity, model space: rest heads + joint shifts."""
    dg = depsgraph or bpy.context.evaluated_depsgraph_get()
    heads, frames = bone_rest_frames(parts.armature, parts.joint_names)
    mesh = parts.joints.evaluated_get(dg).data
    co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)  # type: ignore[union-attr]
    mesh.vertices.foreach_get("co", co)  # type: ignore[union-attr]
    shift = co.reshape(-1, 3).astype(np.float64)[: len(parts.joint_names)]
    return heads + np.einsum("jab,jb->ja", frames, shift)


def local_quaternions(parts: RigParts, names: Sequence[str], model_rotations: np.ndarray) -> np.ndarray:
    """(T,k,4) bone-local quaternions (w,x,y,z) of model rotations (T,k,3,3), sign-continuous in T."""
    _, frames = bone_rest_frames(parts.armature, list(names))
    local = bone_frames.model_to_local(model_rotations, frames)
    return bone_frames.continuous_quaternions(rotations.matrix_to_quaternion(local))


def set_rotations(parts: RigParts, names: Sequence[str], quaternions: np.ndarray) -> None:
    """Sets the bones' rotations now (k,4), switching them to quaternion rotation (keys converted)."""
    bones = parts.armature.pose.bones  # type: ignore[union-attr]
    bone_rotation.use_quaternions(parts.armature, list(names))
    for name, q in zip(names, quaternions, strict=True):
        bone = bones[name]
        bone.rotation_quaternion = tuple(float(x) for x in q)


def ensure_action(owner: bpy.types.ID) -> Action:
    """The owner's action, made (named after it) when it has none."""
    return animation.ensure_action(owner, f"{owner.name} Action")


def key_rotations(
    armature: Object, action: Action, names: Sequence[str], frames: np.ndarray, quaternions: np.ndarray
) -> None:
    """Keys (T,k,4) quaternions on the named pose bones at frames (T,), replacing keys in that span."""
    bone_rotation.use_quaternions(armature, list(names))
    for k, name in enumerate(names):
        path = f'pose.bones["{name}"].rotation_quaternion'
        for c in range(4):
            fcurve = animation.ensure_fcurve(armature, action, path, c, name)
            animation.set_keys(fcurve, frames, quaternions[:, k, c])


def key_locations(
    armature: Object, action: Action, name: str, frames: np.ndarray, locations: np.ndarray
) -> None:
    path = f'pose.bones["{name}"].location'
    for c in range(3):
        fcurve = animation.ensure_fcurve(armature, action, path, c, name)
        animation.set_keys(fcurve, frames, locations[:, c])


@dataclass
class ActionSwap:
    """A new action put on a datablock, with what it replaced, so a failure can put things back."""

    owner: bpy.types.ID
    created: Action
    previous: Action | None
    previous_fake_user: bool

    def undo(self) -> None:
        anim = self.owner.animation_data  # type: ignore[attr-defined]
        if anim is not None:
            anim.action = self.previous
        if self.previous is not None:
            self.previous.use_fake_user = self.previous_fake_user
        if self.created.name in bpy.data.actions:
            bpy.data.actions.remove(self.created)


def use_new_action(owner: bpy.types.ID, name: str) -> ActionSwap:
    """Assigns a new action to owner; the one it replaces stays in the file (with a fake user)."""
    anim = owner.animation_data or owner.animation_data_create()  # type: ignore[attr-defined]
    previous = anim.action
    swap = ActionSwap(owner, bpy.data.actions.new(name), previous, bool(previous and previous.use_fake_user))
    if previous is not None:
        previous.use_fake_user = True  # the user's old animation must survive saving the file
    anim.action = swap.created
    return swap


@contextmanager
def undone_on_failure(scene: Scene) -> Iterator[list[ActionSwap]]:
    """Yields a list for the ActionSwaps the body makes; if the body raises, they are undone and
    the scene's frame rate and range are put back before the exception goes on."""
    old_fps = (scene.render.fps, scene.render.fps_base)
    old_range = (scene.frame_start, scene.frame_end)
    swaps: list[ActionSwap] = []
    try:
        yield swaps
    except BaseException:
        for swap in reversed(swaps):
            swap.undo()
        scene.render.fps, scene.render.fps_base = old_fps
        scene.frame_start, scene.frame_end = old_range
        raise
