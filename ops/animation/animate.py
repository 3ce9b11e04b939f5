"""Keyframe helpers of the Animate panel: body presets, eye target, keying and resetting face and body,
degree controls and rotation modes of single bones, the pose library."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, StringProperty
from bpy.types import Context, Operator

from ...blender.animate import joint_angles, look_at, pose_library, pose_presets
from ...blender.animate.errors import AnimateError
from ...blender.rig import bone_rotation, naming
from ...blender.rig.parts import RigParts, active_rig
from ...engine.registrar import OperatorResult, class_registrar

BODY_ITEMS = [
    ("T", "T-Pose", "Arms straight out to the sides, palms down; the rest of the body at rest"),
    ("A", "A-Pose", "Arms 45 degrees down, palms down; the rest of the body at rest"),
    ("REST", "Rest", "Every body joint at its rest rotation"),
    ("KEEP", "Keep", "Leave the body as it is"),
]
HAND_ITEMS = [
    ("FLAT", "Flat Hands", "Fingers straight (their rest)"),
    ("RELAXED", "Relaxed Hands", "Fingers gently curled towards the palm"),
    ("KEEP", "Keep", "Leave the fingers as they are"),
]
PART_ITEMS = [
    ("FACE", "Face", "Expression keys and the jaw, neck and eye bones"),
    ("BODY", "Body", "Every control bone's rotation and the root's location"),
    ("ALL", "All", "Face and body"),
]
FACE_JOINTS = pose_library.FACE_JOINTS
ROTATION_MODE_ITEMS = [
    (item.identifier, item.name, item.description)
    for item in bpy.types.PoseBone.bl_rna.properties["rotation_mode"].enum_items  # type: ignore[attr-defined]
]


def _rig(context: Context) -> RigParts | None:
    return active_rig(context)


def _face_bones(parts: RigParts) -> list[str]:
    return [n for n in parts.joint_names if n in FACE_JOINTS]


def _expression_blocks(parts: RigParts) -> list[Any]:
    blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    found = (blocks.get(naming.expression_key(i)) for i in range(int(parts.info.num_expression)))
    return [b for b in found if b is not None]


class _RigOperator(Operator):
    @classmethod
    def poll(cls, context: Context) -> bool:
        return _rig(context) is not None


class GAVATAR_OT_pose_preset(_RigOperator):
    """Pose a SMPL-X / SMPL-H body: T-pose, A-pose or rest, with flat or relaxed hands"""

    bl_idname = "gavatar.pose_preset"
    bl_label = "Body Pose Preset"
    bl_options = {"REGISTER", "UNDO"}

    body: EnumProperty(name="Body", items=BODY_ITEMS, default="T")  # type: ignore[valid-type]
    hands: EnumProperty(name="Hands", items=HAND_ITEMS, default="KEEP")  # type: ignore[valid-type]
    keyframe: BoolProperty(name="Insert Keyframes", description="Key the posed bones at the current frame")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        try:
            names = pose_presets.apply_preset(
                parts, self.body, self.hands, self.keyframe, context.scene.frame_current
            )
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        keyed = " and keyed" if self.keyframe else ""
        self.report({"INFO"}, f"Posed{keyed} {len(names)} bones of {parts.armature.name}")
        return {"FINISHED"}


class GAVATAR_OT_eye_target(_RigOperator):
    """Make the eyes follow a target empty (Damped Track), or remove it"""

    bl_idname = "gavatar.eye_target"
    bl_label = "Eye Target"
    bl_options = {"REGISTER", "UNDO"}

    action: EnumProperty(  # type: ignore[valid-type]
        items=[
            ("ADD", "Add", "Add the target in front of the eyes"),
            ("REMOVE", "Remove", "Remove the target"),
        ]
    )
    distance: FloatProperty(  # type: ignore[valid-type]
        name="Distance",
        description="How far in front of the eyes",
        default=look_at.DEFAULT_DISTANCE,
        min=0.01,
        unit="LENGTH",
    )

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        if self.action == "REMOVE":
            if not look_at.remove_eye_target(parts):
                self.report({"WARNING"}, "The rig has no eye target")
            return {"FINISHED"}
        try:
            empty = look_at.add_eye_target(context, parts, self.distance)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"The eyes of {parts.armature.name} follow {empty.name}")
        return {"FINISHED"}


class GAVATAR_OT_key_rig(_RigOperator):
    """Insert keyframes at the current frame on the rig's face controls, body bones, or both"""

    bl_idname = "gavatar.key_rig"
    bl_label = "Key Rig"
    bl_options = {"REGISTER", "UNDO"}

    part: EnumProperty(name="Part", items=PART_ITEMS, default="ALL")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        frame = context.scene.frame_current
        bones = parts.armature.pose.bones  # type: ignore[union-attr]
        keyed = 0
        names = _face_bones(parts) if self.part == "FACE" else parts.joint_names
        for name in names:
            bone = bones[name]
            path = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(
                bone.rotation_mode, "rotation_euler"
            )
            keyed += bool(bone.keyframe_insert(path, frame=frame, group=name))
        if self.part != "FACE":
            root = parts.joint_names[0]
            keyed += bool(bones[root].keyframe_insert("location", frame=frame, group=root))
        if self.part != "BODY":
            for block in _expression_blocks(parts):
                keyed += bool(block.keyframe_insert("value", frame=frame))
        self.report({"INFO"}, f"Keyed {keyed} channels of {parts.armature.name} at frame {frame}")
        return {"FINISHED"}


class GAVATAR_OT_reset_face(_RigOperator):
    """Set every expression to 0 and the jaw, neck and eyes to their rest rotation"""

    bl_idname = "gavatar.reset_face"
    bl_label = "Reset Face"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        for block in _expression_blocks(parts):
            block.value = 0.0
        bones = parts.armature.pose.bones  # type: ignore[union-attr]
        for name in _face_bones(parts):
            bones[name].rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
            bones[name].rotation_euler = (0.0, 0.0, 0.0)
            bones[name].rotation_axis_angle = (0.0, 0.0, 1.0, 0.0)
        return {"FINISHED"}


def _bone(parts: RigParts, name: str) -> Any:
    bone = parts.armature.pose.bones.get(name)  # type: ignore[union-attr]
    if bone is None:
        raise AnimateError(f"'{parts.armature.name}' has no bone named '{name}'.")
    return bone


class GAVATAR_OT_joint_angles(_RigOperator):
    """Turn one bone of the active rig by pitch (nod), yaw (turn) and roll (tilt) in degrees"""

    bl_idname = "gavatar.joint_angles"
    bl_label = "Set Joint Angles"
    bl_options = {"REGISTER", "UNDO"}

    bone: StringProperty(name="Bone", description="Pose bone of the active rig, e.g. neck")  # type: ignore[valid-type]
    angles: FloatVectorProperty(  # type: ignore[valid-type]
        name="Pitch, Yaw, Roll",
        description="Degrees: pitch + nods down, yaw + turns to its left, roll + tilts to its right",
        size=3,
    )
    keyframe: BoolProperty(name="Insert Keyframe", description="Key the bone's rotation at the current frame")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        try:
            bone = _bone(parts, self.bone)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        frame = float(context.scene.frame_current) if self.keyframe else None
        done = joint_angles.set_angles(bone, tuple(self.angles), frame)
        limits = joint_angles.training_limits(parts, bone.name)
        if limits is not None and any(abs(a - b) > 1e-6 for a, b in zip(done, self.angles, strict=True)):
            text = ", ".join(f"{low:.0f}..{high:.0f}" for low, high in limits)
            self.report({"WARNING"}, f"{bone.name} held inside its training range ({text} degrees)")
        return {"FINISHED"}


class GAVATAR_OT_bone_rotation_mode(_RigOperator):
    """Change a bone's rotation mode, rewriting its existing rotation keys in the new mode"""

    bl_idname = "gavatar.bone_rotation_mode"
    bl_label = "Rotation Mode"
    bl_options = {"REGISTER", "UNDO"}

    bone: StringProperty(name="Bone")  # type: ignore[valid-type]
    mode: EnumProperty(name="Mode", items=ROTATION_MODE_ITEMS, default="QUATERNION")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        try:
            bone = _bone(parts, self.bone)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        moved = bone_rotation.switch_mode(parts.armature, bone.name, self.mode)
        if moved:
            self.report({"INFO"}, f"{bone.name}: {moved} rotation keys rewritten in {self.mode}")
        return {"FINISHED"}


class GAVATAR_OT_pose_library_save(_RigOperator):
    """Save the rig's current face or body pose in its pose library (stored in the .blend)"""

    bl_idname = "gavatar.pose_library_save"
    bl_label = "Save Pose"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Name")  # type: ignore[valid-type]
    part: EnumProperty(name="Part", items=pose_library.PART_ITEMS, default="FACE")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        try:
            entry = pose_library.save(parts, self.name, self.part)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved '{entry.name}' in the pose library of {parts.armature.name}")
        return {"FINISHED"}


class GAVATAR_OT_pose_library_apply(_RigOperator):
    """Move the rig towards a pose of its library (Blend 1: all the way), keyed if asked"""

    bl_idname = "gavatar.pose_library_apply"
    bl_label = "Apply Pose"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Name")  # type: ignore[valid-type]
    weight: FloatProperty(name="Blend", default=1.0, min=0.0, max=1.0, subtype="FACTOR")  # type: ignore[valid-type]
    keyframe: BoolProperty(name="Insert Keyframes", description="Key what the pose sets at the current frame")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        frame = float(context.scene.frame_current) if self.keyframe else None
        try:
            pose_library.apply(parts, self.name, self.weight, frame)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class GAVATAR_OT_pose_library_remove(_RigOperator):
    """Remove a pose from the rig's pose library"""

    bl_idname = "gavatar.pose_library_remove"
    bl_label = "Remove Pose"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Name")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        parts = _rig(context)
        assert parts is not None
        try:
            pose_library.remove(parts, self.name)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


register, unregister = class_registrar(
    (
        GAVATAR_OT_pose_preset,
        GAVATAR_OT_eye_target,
        GAVATAR_OT_key_rig,
        GAVATAR_OT_reset_face,
        GAVATAR_OT_joint_angles,
        GAVATAR_OT_bone_rotation_mode,
        GAVATAR_OT_pose_library_save,
        GAVATAR_OT_pose_library_apply,
        GAVATAR_OT_pose_library_remove,
    )
)
