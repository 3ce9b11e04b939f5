"""The "Avatar" tab of the 3D viewport's sidebar. Later panels set ``bl_parent_id = "GAVATAR_PT_main"``."""

from __future__ import annotations

import bpy
from bpy.types import Context, Panel

from ..engine import view_transform
from ..engine.registrar import class_registrar
from ..engine.splats import data as splat_data
from ..engine.splats import integrity
from .preferences import get_preferences


def _broken_avatars(layout: bpy.types.UILayout, context: Context) -> None:
    """Avatars of the scene that lost a part, each in one sentence, with a way to clear them away."""
    scene = context.scene
    for obj in scene.objects if scene is not None else ():
        if not splat_data.is_splat_object(obj):
            continue
        problem = integrity.avatar_problem(obj)
        if problem:
            box = layout.box()
            box.label(text=problem, icon="ERROR")
            box.label(text="The Gaussian Avatar engine skips it; select it to delete what is left.")


class GAVATAR_PT_main(Panel):
    bl_idname = "GAVATAR_PT_main"
    bl_label = "Gaussian Avatar"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"

    def draw(self, context: Context) -> None:
        layout = self.layout
        assert layout is not None
        problems = get_preferences(context).problems()
        if problems:
            box = layout.box()
            for message in problems.values():
                box.label(text=message, icon="ERROR")
        layout.operator("gavatar.check_setup", icon="CHECKMARK")
        _broken_avatars(layout, context)
        settings = context.scene.gavatar  # type: ignore[union-attr]
        layout.prop(settings, "splat_scale")


def draw_view_hint(self: Panel, context: Context) -> None:
    """Under Colour Management: a one-click way back to Standard when the avatar's colours would
    be tone-mapped (engine/view_transform.py says why)."""
    scene = context.scene
    if scene is None or scene.render.engine != view_transform.ENGINE_ID:
        return
    if view_transform.shows_display_values(scene):
        return
    box = self.layout.box()
    box.label(text="The avatar's colours are display values; this view alters them", icon="ERROR")
    box.operator("gavatar.use_standard_view", icon="COLOR")


_register_classes, _unregister_classes = class_registrar((GAVATAR_PT_main,))


def register() -> None:
    _register_classes()
    bpy.types.RENDER_PT_color_management.append(draw_view_hint)


def unregister() -> None:
    bpy.types.RENDER_PT_color_management.remove(draw_view_hint)
    _unregister_classes()
