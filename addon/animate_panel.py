"""Sidebar "Avatar" > "Animate" and "Retarget" panels.

Every control is the real property (a shape-key value, a pose bone's rotation), so hovering and
pressing I, the right-click menu, the Dope Sheet and drivers all work on them as on any rig.
"""

from __future__ import annotations

from typing import Any

from bpy.types import Context, Panel, UILayout, UIList

from ..blender.animate import look_at
from ..blender.rig import naming
from ..blender.rig.parts import RigParts, active_rig
from ..engine.registrar import class_registrar

_MAX_SLIDERS = 200  # more rows than this makes the sidebar sluggish; the filter narrows them
_ROTATION_PROPS = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}
_FACE_BONES = (
    ("jaw", "Jaw"),
    ("neck", "Neck"),
    ("left_eye", "Left Eye"),
    ("right_eye", "Right Eye"),
    ("left_eye_smplhf", "Left Eye"),
    ("right_eye_smplhf", "Right Eye"),
)


def _bone_rotation(layout: UILayout, parts: RigParts, bone: str, label: str) -> None:
    pose_bone = parts.armature.pose.bones.get(bone)  # type: ignore[union-attr]
    if pose_bone is None:
        return
    column = layout.column(align=True)
    row = column.row(align=True)
    row.label(text=label)
    row.prop(pose_bone, "rotation_mode", text="")
    column.row(align=True).prop(
        pose_bone, _ROTATION_PROPS.get(pose_bone.rotation_mode, "rotation_euler"), text=""
    )


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
            self._body(layout, parts, state)

    def _face(self, layout: UILayout, parts: RigParts, state: Any) -> None:
        box = layout.box()
        box.prop(state, "show_face", icon="TRIA_DOWN" if state.show_face else "TRIA_RIGHT", emboss=False)
        if not state.show_face:
            return
        row = box.row(align=True)
        row.operator("gavatar.key_rig", text="Key Face", icon="KEY_HLT").part = "FACE"
        row.operator("gavatar.reset_face", text="Reset", icon="LOOP_BACK")
        for bone, label in _FACE_BONES:
            _bone_rotation(box, parts, bone, label)
        _eye_target(box, parts)
        if int(parts.info.num_expression):
            box.prop(state, "show_expressions", icon="TRIA_DOWN" if state.show_expressions else "TRIA_RIGHT")
            if state.show_expressions:
                box.prop(state, "expression_filter", text="", icon="VIEWZOOM")
                _expressions(box, parts, state)

    def _body(self, layout: UILayout, parts: RigParts, state: Any) -> None:
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


register, unregister = class_registrar((GAVATAR_PT_animate, GAVATAR_UL_bone_map, GAVATAR_PT_retarget))
