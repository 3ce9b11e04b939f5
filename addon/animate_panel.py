"""Sidebar "Avatar" > "Animate" and "Retarget" panels.

Expression sliders are the real shape-key values, so hovering and pressing I, the right-click menu,
the Dope Sheet and drivers work on them as on any rig. Jaw, neck and eyes are turned by degree
sliders (pitch, yaw, roll; blender/animate/joint_angles.py) that edit the bones' real rotations in
whatever mode the bone has; "Key Face" keys those rotations.
"""

from __future__ import annotations

from typing import Any

from bpy.types import Context, Panel, UILayout, UIList

from ..blender.animate import joint_angles, look_at
from ..blender.rig import naming, training_range
from ..blender.rig.parts import RigParts, active_rig
from ..engine.registrar import class_registrar

_MAX_SLIDERS = 200  # more rows than this makes the sidebar sluggish; the filter narrows them
_ANGLE_LABELS = ("Pitch (nod)", "Yaw (turn)", "Roll (tilt)")
_FACE_BONES = (
    ("jaw", "Jaw"),
    ("neck", "Neck"),
    ("left_eye", "Left Eye"),
    ("right_eye", "Right Eye"),
    ("left_eye_smplhf", "Left Eye"),
    ("right_eye_smplhf", "Right Eye"),
)


def _bone_angles(layout: UILayout, parts: RigParts, bone: str, label: str, stats: Any) -> None:
    """Three degree sliders (pitch, yaw, roll) editing the bone's real rotation, with its
    rotation-mode menu (switching converts the bone's keys) and the trained range when known."""
    pose_bone = parts.armature.pose.bones.get(bone)  # type: ignore[union-attr]
    if pose_bone is None:
        return
    column = layout.column(align=True)
    row = column.row(align=True)
    row.label(text=label)
    mode = row.operator_menu_enum("gavatar.bone_rotation_mode", "mode", text=pose_bone.rotation_mode)
    mode.bone = bone
    limits = joint_angles.training_limits(parts, bone, stats) if stats is not None else None
    for index, name in enumerate(_ANGLE_LABELS):
        text = name if limits is None else f"{name} ({limits[index, 0]:.0f}..{limits[index, 1]:.0f})"
        column.prop(pose_bone, "gavatar_angles", index=index, text=text)


def _expressions(layout: UILayout, parts: RigParts, state: Any) -> None:
    info: Any = parts.info
    blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    labels = [item.name for item in info.expression_names]
    wanted = state.expression_filter.lower()
    column = layout.column(align=True)
    shown = 0
    for i in range(int(info.num_expression)):
        label = labels[i] if i < len(labels) else naming.expression_key(i)
        block = blocks.get(naming.expression_key(i))
        if block is None or (wanted and wanted not in label.lower()):
            continue
        if shown == _MAX_SLIDERS:
            column.label(text="More: narrow the filter", icon="INFO")
            break
        column.prop(block, "value", text=label, slider=True)
        shown += 1


def _eye_target(layout: UILayout, parts: RigParts) -> None:
    if not look_at.eye_bones(parts):
        return
    target = look_at.eye_target(parts)
    row = layout.row(align=True)
    if target is None:
        row.operator("gavatar.eye_target", text="Add Eye Target", icon="HIDE_OFF").action = "ADD"
        return
    row.label(text=f"Eyes follow {target.name}", icon="HIDE_OFF")
    row.operator("gavatar.eye_target", text="", icon="X").action = "REMOVE"
    for constraint in look_at.eye_constraints(parts)[:1]:
        layout.prop(constraint, "influence", text="Look-At Influence", slider=True)


class GAVATAR_UL_pose_library(UIList):
    """Rows of a rig's pose library: the pose's name and what it covers."""

    def draw_item(  # type: ignore[override]
        self,
        _context: Context,
        layout: UILayout,
        _data: Any,
        item: Any,
        _icon: int,
        _active_data: Any,
        _active_property: str,
        _index: int = 0,
        _flt_flag: int = 0,
    ) -> None:
        row = layout.row(align=True)
        row.prop(item, "name", text="", emboss=False, icon="POSE_HLT")
        row.label(text=item.part.title())


def _pose_library(layout: UILayout, state: Any) -> None:
    box = layout.box()
    box.prop(state, "show_library", icon="TRIA_DOWN" if state.show_library else "TRIA_RIGHT", emboss=False)
    if not state.show_library:
        return
    row = box.row(align=True)
    row.prop(state, "new_pose_name", text="")
    row.prop(state, "new_pose_part", text="")
    save = row.operator("gavatar.pose_library_save", text="", icon="ADD")
    save.name, save.part = state.new_pose_name, state.new_pose_part
    if not len(state.poses):
        box.label(text="Name the current pose and press + to keep it", icon="INFO")
        return
    box.template_list("GAVATAR_UL_pose_library", "", state, "poses", state, "active_pose", rows=3)
    if not 0 <= state.active_pose < len(state.poses):
        return
    chosen = state.poses[state.active_pose].name
    box.prop(state, "pose_weight", slider=True)
    row = box.row(align=True)
    apply = row.operator("gavatar.pose_library_apply", text="Apply", icon="CHECKMARK")
    apply.name, apply.weight, apply.keyframe = chosen, state.pose_weight, False
    keyed = row.operator("gavatar.pose_library_apply", text="Apply and Key", icon="KEY_HLT")
    keyed.name, keyed.weight, keyed.keyframe = chosen, state.pose_weight, True
    row.operator("gavatar.pose_library_remove", text="", icon="X").name = chosen


class GAVATAR_PT_animate(Panel):
    bl_idname = "GAVATAR_PT_animate"
    bl_label = "Animate"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"
    bl_parent_id = "GAVATAR_PT_main"

    def draw(self, context: Context) -> None:
        layout = self.layout
        assert layout is not None
        parts = active_rig(context)
        motion = layout.column(align=True)
        motion.operator("gavatar.import_amass", text="Import AMASS Motion", icon="ARMATURE_DATA")
        motion.operator("gavatar.reenact", text="Apply FLAME Sequence", icon="SHAPEKEY_DATA")
        motion.operator("gavatar.render_sequence", text="Render Sequence", icon="RENDER_ANIMATION")
        if parts is None:
            layout.label(text="Select an avatar rig to animate it", icon="INFO")
            return
        state: Any = parts.armature.gavatar_animate  # type: ignore[attr-defined]
        if parts.family in ("FLAME", "SMPLX"):
            self._face(layout, parts, state)
        if parts.family in ("SMPLX", "SMPLH"):
            self._body(layout, parts, state, context)
        _pose_library(layout, state)

    def _face(self, layout: UILayout, parts: RigParts, state: Any) -> None:
        box = layout.box()
        box.prop(state, "show_face", icon="TRIA_DOWN" if state.show_face else "TRIA_RIGHT", emboss=False)
        if not state.show_face:
            return
        row = box.row(align=True)
        row.operator("gavatar.key_rig", text="Key Face", icon="KEY_HLT").part = "FACE"
        row.operator("gavatar.reset_face", text="Reset", icon="LOOP_BACK")
        stats = training_range.training_stats(parts)
        if stats is not None:
            box.prop(state, "limit_to_training")
        for bone, label in _FACE_BONES:
            _bone_angles(box, parts, bone, label, stats)
        _eye_target(box, parts)
        if int(parts.info.num_expression):
            box.prop(state, "show_expressions", icon="TRIA_DOWN" if state.show_expressions else "TRIA_RIGHT")
            if state.show_expressions:
                box.prop(state, "expression_filter", text="", icon="VIEWZOOM")
                _expressions(box, parts, state)

    def _body(self, layout: UILayout, parts: RigParts, state: Any, context: Context) -> None:
        box = layout.box()
        box.prop(state, "show_body", icon="TRIA_DOWN" if state.show_body else "TRIA_RIGHT", emboss=False)
        if not state.show_body:
            return
        row = box.row(align=True)
        for body, label in (("T", "T-Pose"), ("A", "A-Pose"), ("REST", "Rest")):
            op = row.operator("gavatar.pose_preset", text=label)
            op.body, op.hands = body, "KEEP"
        row = box.row(align=True)
        for hands, label in (("FLAT", "Flat Hands"), ("RELAXED", "Relaxed Hands")):
            op = row.operator("gavatar.pose_preset", text=label)
            op.body, op.hands = "KEEP", hands
        box.operator("gavatar.key_rig", text="Key Body", icon="KEY_HLT").part = "BODY"
        bone = context.active_pose_bone
        if bone is not None and bone.id_data == parts.armature and bone.name in parts.joint_names:
            stats = training_range.training_stats(parts)
            _bone_angles(box, parts, bone.name, f"Selected: {bone.name}", stats)


class GAVATAR_UL_bone_map(UIList):
    """Rows of the retarget bone map: joint, source bone, target bone, on/off."""

    def draw_item(  # type: ignore[override]
        self,
        _context: Context,
        layout: UILayout,
        data: Any,
        item: Any,
        _icon: int,
        _active_data: Any,
        _active_property: str,
        _index: int = 0,
        _flt_flag: int = 0,
    ) -> None:
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        row.label(text=item.name)
        if data.source is not None:
            row.prop_search(item, "source", data.source.data, "bones", text="")
        else:
            row.prop(item, "source", text="")
        row.prop_search(item, "target", data.id_data.data, "bones", text="")


class GAVATAR_PT_retarget(Panel):
    bl_idname = "GAVATAR_PT_retarget"
    bl_label = "Retarget"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"
    bl_parent_id = "GAVATAR_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Context) -> None:
        layout = self.layout
        parts = active_rig(context)
        target = parts.armature if parts is not None else context.active_object
        if target is None or target.type != "ARMATURE":
            layout.label(text="Select the armature that takes the motion", icon="INFO")
            return
        state: Any = target.gavatar_retarget  # type: ignore[attr-defined]
        layout.label(text=f"Target: {target.name}", icon="ARMATURE_DATA")
        layout.prop(state, "source")
        row = layout.row(align=True)
        row.prop(state, "source_preset", text="")
        row.prop(state, "target_preset", text="")
        layout.prop(state, "root_motion")
        row = layout.row(align=True)
        row.operator(
            "gavatar.retarget_detect_map", text="Detect Bone Map", icon="BONE_DATA"
        ).target = target.name
        layout.prop(state, "show_map", text=f"Bone Map ({len(state.pairs)})",
                    icon="TRIA_DOWN" if state.show_map else "TRIA_RIGHT")  # fmt: skip
        if state.show_map:
            row = layout.row()
            row.template_list("GAVATAR_UL_bone_map", "", state, "pairs", state, "active_pair", rows=6)
            column = row.column(align=True)
            add = column.operator("gavatar.retarget_map_edit", text="", icon="ADD")
            add.action, add.target = "ADD", target.name
            remove = column.operator("gavatar.retarget_map_edit", text="", icon="REMOVE")
            remove.action, remove.target = "REMOVE", target.name
        run = layout.row()
        run.enabled = state.source is not None
        run.operator("gavatar.retarget", text="Retarget Scene Range", icon="ACTION").target = target.name
        preview = run.row(align=True)
        preview.operator(
            "gavatar.retarget_preview", text="Preview", icon="GHOST_ENABLED"
        ).target = target.name
        clear = preview.operator("gavatar.retarget_preview", text="", icon="X")
        clear.target, clear.clear = target.name, True


register, unregister = class_registrar(
    (GAVATAR_UL_pose_library, GAVATAR_PT_animate, GAVATAR_UL_bone_map, GAVATAR_PT_retarget)
)
