"""The "Avatar" tab of the 3D viewport's sidebar. Later panels set ``bl_parent_id = "GAVATAR_PT_main"``."""

from __future__ import annotations

from bpy.types import Context, Panel

from ..engine.registrar import class_registrar
from .preferences import get_preferences


class GAVATAR_PT_main(Panel):
    bl_idname = "GAVATAR_PT_main"
    bl_label = "Gaussian Avatar"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"

    def draw(self, context: Context) -> None:
        layout = self.layout
        problems = get_preferences(context).problems()
        if problems:
            box = layout.box()
            for message in problems.values():
                box.label(text=message, icon="ERROR")
        layout.operator("gavatar.check_setup", icon="CHECKMARK")
        settings = context.scene.gavatar  # type: ignore[union-attr]
        layout.prop(settings, "splat_scale")


register, unregister = class_registrar((GAVATAR_PT_main,))
