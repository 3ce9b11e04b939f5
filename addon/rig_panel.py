"""Sidebar "Avatar" > "Rig" panel for the active rig, and Add (Shift+A) > Avatar Rig entries."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.types import Context, Menu, Panel, UILayout

from ..blender.rig import naming
from ..blender.rig.parts import RigParts, active_rig
from ..engine.registrar import class_registrar

_MAX_SLIDERS = 400  # drawing more rows than this makes the sidebar sluggish


def _sliders(layout: UILayout, parts: RigParts, names: list[tuple[str, str]]) -> None:
    blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    column = layout.column(align=True)
    for key_name, label in names[:_MAX_SLIDERS]:
        block = blocks.get(key_name)
        if block is not None:
            column.prop(block, "value", text=label, slider=True)


class GAVATAR_PT_rig(Panel):
    bl_idname = "GAVATAR_PT_rig"
    bl_label = "Rig"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"
    bl_parent_id = "GAVATAR_PT_main"

    def draw(self, context: Context) -> None:
        layout = self.layout
        assert layout is not None
        parts = active_rig(context)
        if parts is None:
            row = layout.row(align=True)
            row.operator("gavatar.add_rig", text="FLAME Head", icon="ARMATURE_DATA").family = "FLAME"
            row.operator("gavatar.add_rig", text="SMPL-X Body", icon="ARMATURE_DATA").family = "SMPLX"
            layout.label(text="Select a rig to pose it from parameters", icon="INFO")
            return
        info: Any = parts.info
        box = layout.box()
        box.label(
            text=f"{naming.family_label(info.family)} · {info.gender or 'neutral'}", icon="ARMATURE_DATA"
        )
        box.label(text=f"Model: {info.model_name or 'unknown'}")
        if info.model_sha256:
            box.label(text=f"SHA-256: {info.model_sha256[:16]}…")
        box.label(text=f"{info.num_shape} shape · {info.num_expression} expression keys")
        box.prop(info, "auto_rest")
        if info.has_correctives:
            box.prop(info, "live_correctives")
        layout.operator("gavatar.update_rig_joints", icon="BONE_DATA")
        row = layout.row(align=True)
        row.operator("gavatar.apply_params", text="Apply Params", icon="IMPORT")
        row.operator("gavatar.export_params", text="Export Params", icon="EXPORT")
        if info.num_shape:
            layout.prop(info, "show_shape", icon="TRIA_DOWN" if info.show_shape else "TRIA_RIGHT")
            if info.show_shape:
                shape = [(naming.shape_key(i), naming.shape_key(i)) for i in range(info.num_shape)]
                _sliders(layout, parts, shape)
        if info.num_expression:
            layout.prop(info, "show_expressions", icon="TRIA_DOWN" if info.show_expressions else "TRIA_RIGHT")
            if info.show_expressions:
                labels = [item.name for item in info.expression_names]
                expression = [
                    (naming.expression_key(i), labels[i])
                    for i in range(min(len(labels), info.num_expression))
                ]
                _sliders(layout, parts, expression)


class GAVATAR_MT_add_rig(Menu):
    bl_idname = "GAVATAR_MT_add_rig"
    bl_label = "Avatar Rig"

    def draw(self, _context: Context) -> None:
        self.layout.operator("gavatar.add_rig", text="FLAME Head").family = "FLAME"
        self.layout.operator("gavatar.add_rig", text="SMPL-X Body").family = "SMPLX"


def _add_menu(self: Menu, _context: Context) -> None:
    self.layout.menu(GAVATAR_MT_add_rig.bl_idname, icon="ARMATURE_DATA")


_register_classes, _unregister_classes = class_registrar((GAVATAR_PT_rig, GAVATAR_MT_add_rig))


def register() -> None:
    _register_classes()
    bpy.types.VIEW3D_MT_add.append(_add_menu)


def unregister() -> None:
    bpy.types.VIEW3D_MT_add.remove(_add_menu)
    _unregister_classes()
