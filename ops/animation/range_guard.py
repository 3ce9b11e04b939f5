"""``gavatar.range_guard_bake``: the rig's expression keys brought into the avatar's training range
(clamp or soft), so the driver mesh stays in range too. The live guard needs no operator."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import Context, Operator

from ...blender.animate import range_bake as range_guard_bake
from ...blender.animate.targets import guarded_splat
from ...engine.registrar import OperatorResult, class_registrar
from ...engine.splats import data as splat_data
from ...engine.splats import range_guard

MODE_ITEMS = [
    ("GUARD", "As the Guard", "The splat object's guard mode (Clamp when the guard is off)"),
    ("CLAMP", "Clamp", "Clip each key to the training range"),
    ("SOFT", "Soft", "Keys beyond the range approach its edge smoothly (tanh)"),
]


class GAVATAR_OT_range_guard_bake(Operator):
    """Rewrite the rig's expression keys (and unkeyed expression values) into the avatar's training
    range, so the driver mesh stays in range as well as the Gaussians"""

    bl_idname = "gavatar.range_guard_bake"
    bl_label = "Bring Expression Keys into Range"
    bl_options = {"REGISTER", "UNDO"}

    splats: StringProperty(name="Splat Object", description="The avatar's splat object (empty: active)")  # type: ignore[valid-type]
    mode: EnumProperty(name="Mode", items=MODE_ITEMS, default="GUARD")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        obj = bpy.data.objects.get(self.splats) if self.splats else guarded_splat(context)
        if obj is None or not splat_data.is_splat_object(obj):
            self.report({"ERROR"}, "Select an avatar (its splats or its rig), or name its splat object.")
            return {"CANCELLED"}
        guard = range_guard.guard_settings(obj)
        mode = self.mode if self.mode != "GUARD" else ("CLAMP" if guard.mode == "OFF" else str(guard.mode))
        try:
            result = range_guard_bake.bake_expression_keys(
                obj, mode, float(guard.softness), float(guard.margin)
            )
        except range_guard_bake.GuardBakeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report(
            {"INFO"},
            f"{result.keys_changed} keys on {result.curves} expression curves and {result.values_changed} "
            f"unkeyed values brought into range ({mode.lower()})",
        )
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_range_guard_bake,))
