"""Sidebar "Avatar" > "ARKit Curves": import a capture, and the rig's ARKit mapping table
(ARKit name -> expression coefficients; fitted from a rig with ARKit expressions or set by hand)."""

from __future__ import annotations

from typing import Any

from bpy.types import Context, Panel, UILayout, UIList

from ..blender.animate import arkit_map
from ..blender.rig.parts import active_rig
from ..core.motion import arkit_mapping
from ..engine.registrar import class_registrar


class GAVATAR_UL_arkit_entries(UIList):
    """ARKit shapes of the table, with how many coefficients each has."""

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
        row = layout.row()
        row.label(text=item.name)
        row.label(text=str(len(item.coefficients)))


class GAVATAR_UL_arkit_coefficients(UIList):
    """Coefficients of one ARKit shape: expression index and weight."""

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
        row.prop(item, "index", text="Exp")
        row.prop(item, "value", text="")


class GAVATAR_PT_arkit(Panel):
    bl_idname = "GAVATAR_PT_arkit"
    bl_label = "ARKit Curves"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"
    bl_parent_id = "GAVATAR_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Context) -> None:
        layout = self.layout
        parts = active_rig(context)
        layout.operator("gavatar.import_arkit", text="Import ARKit Curves", icon="SHAPEKEY_DATA")
        if parts is None or parts.family not in ("FLAME", "SMPLX"):
            layout.label(text="Select a FLAME or SMPL-X rig", icon="INFO")
            return
        name = parts.armature.name
        state: Any = arkit_map.settings(parts.armature)
        by_name = arkit_mapping.name_map(arkit_map.expression_names(parts))
        table = arkit_map.has_table(parts.armature)
        if table:
            layout.label(text="Mapping: the rig's table", icon="CHECKMARK")
        elif by_name:
            layout.label(text=f"Mapping: by name ({len(by_name)} of 52 shapes)", icon="CHECKMARK")
        else:
            layout.label(text="No ARKit names: fit or fill a table", icon="ERROR")
        box = layout.box()
        box.prop(state, "source")
        box.prop(state, "ridge")
        row = box.row(align=True)
        row.enabled = state.source is not None
        row.operator("gavatar.arkit_map_fit", text="Fit Table", icon="CON_FOLLOWPATH").target = name
        if table and state.fit_error:
            box.label(text=f"Worst relative residual {state.fit_error:.3g}")
        row = layout.row(align=True)
        row.operator("gavatar.arkit_map_fill", text="List Shapes", icon="PRESET").target = name
        row.operator("gavatar.arkit_map_clear", text="Clear", icon="X").target = name
        if not len(state.entries):
            return
        layout.prop(state, "show_map", icon="TRIA_DOWN" if state.show_map else "TRIA_RIGHT")
        if not state.show_map:
            return
        layout.template_list("GAVATAR_UL_arkit_entries", "", state, "entries", state, "active_entry", rows=5)
        if 0 <= state.active_entry < len(state.entries):
            entry = state.entries[state.active_entry]
            row = layout.row()
            row.template_list(
                "GAVATAR_UL_arkit_coefficients",
                "",
                entry,
                "coefficients",
                entry,
                "active_coefficient",
                rows=3,
            )
            column = row.column(align=True)
            add = column.operator("gavatar.arkit_coefficient", text="", icon="ADD")
            add.action, add.target = "ADD", name
            remove = column.operator("gavatar.arkit_coefficient", text="", icon="REMOVE")
            remove.action, remove.target = "REMOVE", name


register, unregister = class_registrar(
    (GAVATAR_UL_arkit_entries, GAVATAR_UL_arkit_coefficients, GAVATAR_PT_arkit)
)
