"""A pose and expression library kept in the .blend, on the rig's armature (save, apply, blend).

Blender's own pose assets hold bone channels of one armature; a face here is bones *and* shape-key
values of the driver mesh, so each library entry holds both: the joints' rotations as model-axis
axis-angle (independent of the bones' rotation modes, so an entry applies to any rig of the family)
and the expression values by key name. Applying with a weight below 1 blends from the current pose
(rotations along the shortest arc, expression values linearly). Where a pose asset fits, the bone
part is also saved as one (an asset-marked action, "<rig> <pose>"), so it shows in Blender's Pose
Library asset shelf and blends there with Blender's own tools.
"""

from __future__ import annotations

import json
from typing import Any

import bpy
import numpy as np
from bpy.types import Action

from ...core import rotations
from ...core.rig import anatomy
from ..rig import bone_rotation, naming
from ..rig.parts import RigParts
from .errors import AnimateError

FACE_JOINTS = ("jaw", "neck", "left_eye", "right_eye", "left_eye_smplhf", "right_eye_smplhf")
PART_ITEMS = [
    ("FACE", "Face", "Expression values and the jaw, neck and eye bones"),
    ("BODY", "Body", "Every joint below the root, except the face's"),
    ("ALL", "All", "Face and body (every joint below the root)"),
]


def _library(parts: RigParts) -> Any:
    return parts.armature.gavatar_animate.poses  # type: ignore[attr-defined]


def _joints(parts: RigParts, part: str) -> list[str]:
    names = parts.joint_names[1:]  # the root places the whole body; a library pose leaves it alone
    if part == "FACE":
        return [n for n in names if n in FACE_JOINTS]
    if part == "BODY":
        return [n for n in names if n not in FACE_JOINTS]
    return names


def _model_rotation(parts: RigParts, name: str) -> np.ndarray:
    bone = parts.armature.pose.bones[name]  # type: ignore[union-attr]
    rest = np.array(bone.bone.matrix_local, dtype=np.float64)[:3, :3]
    return rest @ bone_rotation.local_matrix(bone) @ rest.T


def _expression_blocks(parts: RigParts) -> list[Any]:
    blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    found = (blocks.get(naming.expression_key(i)) for i in range(int(parts.info.num_expression)))
    return [b for b in found if b is not None]


def capture(parts: RigParts, part: str) -> dict[str, Any]:
    """The rig's current pose of the part, as a library entry's contents."""
    joints = {
        name: [float(x) for x in rotations.matrix_to_axis_angle(_model_rotation(parts, name))]
        for name in _joints(parts, part)
    }
    expressions = {}
    if part in ("FACE", "ALL"):
        expressions = {block.name: float(block.value) for block in _expression_blocks(parts)}
    return {"family": parts.family, "part": part, "joints": joints, "expressions": expressions}


def save(parts: RigParts, name: str, part: str) -> Any:
    """Stores the current pose under ``name`` (replacing an entry of that name); returns the entry."""
    name = name.strip()
    if not name:
        raise AnimateError("Give the pose a name to save it under.")
    library = _library(parts)
    entry = library.get(name) or library.add()
    entry.name = name
    entry.part = part
    contents = capture(parts, part)
    entry.data = json.dumps(contents)
    if contents["joints"]:
        mark_pose_asset(parts, name, list(contents["joints"]))
    return entry


def asset_name(parts: RigParts, name: str) -> str:
    return f"{parts.armature.name} {name}"


def mark_pose_asset(parts: RigParts, name: str, joints: list[str]) -> Action:
    """The joints' current rotations as a pose asset: an action keyed at frame 1 on the bones' own
    rotation channels, marked as an asset (replacing one of the same name); the armature keeps its
    animation."""
    old = bpy.data.actions.get(asset_name(parts, name))
    if old is not None:
        bpy.data.actions.remove(old)
    action = bpy.data.actions.new(asset_name(parts, name))
    armature = parts.armature
    anim: Any = armature.animation_data or armature.animation_data_create()
    previous, previous_slot = anim.action, getattr(anim, "action_slot", None)
    bones = armature.pose.bones  # type: ignore[union-attr]
    try:
        anim.action = action
        for joint in joints:
            bone_rotation.key_rotation(bones[joint], 1.0)
    finally:
        anim.action = previous
        if previous is not None and previous_slot is not None:
            anim.action_slot = previous_slot
    action.asset_mark()
    return action


def entry_contents(parts: RigParts, name: str) -> dict[str, Any]:
    entry = _library(parts).get(name)
    if entry is None:
        raise AnimateError(f"'{parts.armature.name}' has no library pose named '{name}'.")
    try:
        contents = json.loads(entry.data)
    except ValueError:
        raise AnimateError(f"The library pose '{name}' is damaged; save it again.") from None
    if contents.get("family") != parts.family:
        label = naming.family_label(str(contents.get("family")))
        raise AnimateError(f"'{name}' is a {label} pose; '{parts.armature.name}' is another kind of rig.")
    return dict(contents)


def apply(parts: RigParts, name: str, weight: float = 1.0, frame: float | None = None) -> int:
    """Blends the rig a fraction ``weight`` of the way to the library pose (1: the pose itself),
    keying what it changes at ``frame`` when given. Returns how many channels it set."""
    contents = entry_contents(parts, name)
    bones = parts.armature.pose.bones  # type: ignore[union-attr]
    changed = 0
    for joint, axis_angle in contents.get("joints", {}).items():
        bone = bones.get(joint)
        if bone is None:
            continue
        target = rotations.axis_angle_to_matrix(np.asarray(axis_angle, dtype=np.float64))
        blended = anatomy.blend_rotations(_model_rotation(parts, joint), target, weight)
        rest = np.array(bone.bone.matrix_local, dtype=np.float64)[:3, :3]
        bone_rotation.set_local_matrix(bone, rest.T @ blended @ rest)
        if frame is not None:
            bone_rotation.key_rotation(bone, frame)
        changed += 1
    blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    for key_name, value in contents.get("expressions", {}).items():
        block = blocks.get(key_name)
        if block is None:
            continue
        block.value = block.value + weight * (float(value) - block.value)
        if frame is not None:
            block.keyframe_insert("value", frame=frame)
        changed += 1
    return changed


def remove(parts: RigParts, name: str) -> None:
    """Removes the entry and its pose asset."""
    library = _library(parts)
    index = library.find(name)
    if index < 0:
        raise AnimateError(f"'{parts.armature.name}' has no library pose named '{name}'.")
    library.remove(index)
    asset = bpy.data.actions.get(asset_name(parts, name))
    if asset is not None:
        bpy.data.actions.remove(asset)
