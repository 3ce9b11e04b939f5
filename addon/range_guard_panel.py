"""Sidebar "Avatar" > "Range Guard": how far the current frame's expression and pose are from what the
avatar saw in training, and the guard that brings them back (clamp or soft) for the Gaussians."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bpy.types import Context, Object, Panel

from ..blender.animate.targets import guarded_splat
from ..blender.rig import naming
from ..blender.rig.parts import find_rig
from ..core.avatar import range_stats
from ..engine.registrar import class_registrar
from ..engine.splats import data as splat_data
from ..engine.splats import driver_mesh, range_guard


def feature_label(obj: Object, index: int, num_expression: int) -> str:
    """Readable name of dynamics feature ``index`` (expression name, or pose corrective entry)."""
    driver = splat_data.splat_driver(obj)
    parts = find_rig(driver) if driver is not None else None
    if index < num_expression:
        names = [n.name for n in parts.info.expression_names] if parts is not None else []
        return names[index] if index < len(names) else naming.expression_key(index)
    k = index - num_expression
    joint_index, entry = divmod(k, 9)
    joints = parts.joint_names if parts is not None else []
    joint = joints[joint_index + 1] if joint_index + 1 < len(joints) else f"joint {joint_index + 1}"
    return naming.corrective_key(joint, *divmod(entry, 3))


@dataclass
class FrameRange:
    report: range_stats.RangeReport
    furthest: list[tuple[int, float, float, float]]  # (feature, value, low, high)
    num_expression: int


def frame_report(context: Context, obj: Object) -> FrameRange | None:
    """This frame's distance from the training range (with the guard's margin)."""
    stats = range_guard.stats_of(obj)
    driver = splat_data.splat_driver(obj)
    if stats is None or driver is None:
        return None
    props = splat_data.settings(obj)
    num_e = int(props.dynamics_num_expression) if props.dynamics_rank else stats.expression.shape[1]
    num_p = int(props.dynamics_num_pose_features) if props.dynamics_rank else stats.pose_features.shape[1]
    rows = stats.features(num_e, num_p)
    reader = driver_mesh.FeatureReader(driver, num_e, num_p)
    values = reader.read(driver, context.evaluated_depsgraph_get())
    if props.dynamics_rank:
        values = values * float(props.dynamics_influence)
    margin = float(range_guard.guard_settings(obj).margin)
    return FrameRange(
        range_stats.report(values, rows, margin), range_stats.furthest_outside(values, rows, margin), num_e
    )


class GAVATAR_PT_range_guard(Panel):
    bl_idname = "GAVATAR_PT_range_guard"
    bl_label = "Range Guard"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"
    bl_parent_id = "GAVATAR_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Context) -> None:
        layout = self.layout
        obj = guarded_splat(context)
        if obj is None:
            layout.label(text="Select an avatar (its splats or its rig)", icon="INFO")
            return
        stats = range_guard.stats_of(obj)
        if stats is None:
            layout.label(text=f"{obj.name}: no training statistics", icon="INFO")
            layout.label(text="(older avatar file): guard unavailable")
            return
        layout.label(text=f"{obj.name}: range of {stats.frames} training frames", icon="ARMATURE_DATA")
        self._distance(context, obj)
        guard: Any = range_guard.guard_settings(obj)
        props = splat_data.settings(obj)
        if not props.dynamics_rank:
            layout.label(text="No dynamic blendshapes: nothing to guard", icon="INFO")
            return
        layout.prop(guard, "mode", expand=True)
        column = layout.column(align=True)
        column.active = guard.mode != "OFF"
        if guard.mode == "SOFT":
            column.prop(guard, "softness")
        column.prop(guard, "margin")
        row = layout.row()
        row.enabled = guard.mode != "OFF"
        row.operator("gavatar.range_guard_bake", text="Bring Expression Keys into Range", icon="KEY_HLT")

    def _distance(self, context: Context, obj: Object) -> None:
        try:
            found = frame_report(context, obj)
        except (range_stats.RangeStatsError, driver_mesh.DriverMeshError, ValueError) as exc:
            self.layout.label(text=str(exc), icon="ERROR")
            return
        if found is None:
            return
        rep, num_e = found.report, found.num_expression
        box = self.layout.box()
        text = f"{rep.outside} of {rep.count} values outside the range"
        if rep.outside == 0:
            box.label(text=text, icon="CHECKMARK")
        else:
            box.label(text=text, icon="ERROR")
        box.label(text=f"Largest z-score {rep.max_z:.1f} ({feature_label(obj, rep.worst, num_e)})")
        if rep.outside:
            box.label(text=f"Furthest {rep.max_excess:.0%} of the range past its edge")
            column = box.column(align=True)
            for index, value, low, high in found.furthest:
                label = feature_label(obj, index, num_e)
                column.label(text=f"{label}: {value:.3g} (range {low:.3g} .. {high:.3g})")


register, unregister = class_registrar((GAVATAR_PT_range_guard,))
