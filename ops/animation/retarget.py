"""Retargeting between armatures in the scene: ``gavatar.retarget`` bakes the source's motion onto the
target; ``gavatar.retarget_preview`` shows ghosts of the result on a few frames without keying;
``gavatar.retarget_detect_map`` fills the target's editable bone map from the naming presets."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Context, Object, Operator

from ...blender.animate import retarget_bake, retarget_preview
from ...blender.animate.errors import AnimateError
from ...blender.animate.properties import PRESET_ITEMS, ROOT_MOTION_ITEMS
from ...blender.rig.parts import active_rig
from ...engine.registrar import OperatorResult, class_registrar


def settings(obj: Object) -> Any:
    return obj.gavatar_retarget  # type: ignore[attr-defined]


def resolve_target(context: Context, name: str) -> Object:
    if name:
        obj = bpy.data.objects.get(name)
        if obj is None:
            raise AnimateError(f"There is no object named '{name}'.")
    else:
        parts = active_rig(context)
        obj = parts.armature if parts is not None else context.active_object
        if obj is None:
            raise AnimateError("Select the armature that takes the motion, or name it as the target.")
    if obj.type != "ARMATURE":
        raise AnimateError(f"The target '{obj.name}' is not an armature.")
    return obj


def resolve_source(target: Object, name: str) -> Object:
    if name:
        obj = bpy.data.objects.get(name)
        if obj is None:
            raise AnimateError(f"There is no object named '{name}'.")
    else:
        obj = settings(target).source
        if obj is None:
            raise AnimateError(f"Choose the armature whose motion '{target.name}' takes (the source).")
    if obj.type != "ARMATURE":
        raise AnimateError(f"The source '{obj.name}' is not an armature.")
    return obj


def store_map(target: Object, source: Object, pairs: list[retarget_bake.Pair]) -> None:
    state = settings(target)
    state.source = source
    state.pairs.clear()
    for joint, src, dst in pairs:
        item = state.pairs.add()
        item.name, item.source, item.target, item.enabled = joint, src, dst, True
    state.active_pair = 0


def stored_pairs(target: Object) -> list[retarget_bake.Pair]:
    return [
        (p.name, p.source, p.target) for p in settings(target).pairs if p.enabled and p.source and p.target
    ]


class _Armatures:
    source: StringProperty(  # type: ignore[valid-type]
        name="Source", description="Armature whose motion is taken (empty: the target's stored source)"
    )
    target: StringProperty(  # type: ignore[valid-type]
        name="Target", description="Armature that takes the motion (empty: the active rig or armature)"
    )


class GAVATAR_OT_retarget_detect_map(_Armatures, Operator):
    """Fill the target's bone map from the bone-naming conventions of both armatures"""

    bl_idname = "gavatar.retarget_detect_map"
    bl_label = "Detect Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    source_preset: EnumProperty(name="Source Names", items=PRESET_ITEMS, default="AUTO")  # type: ignore[valid-type]
    target_preset: EnumProperty(name="Target Names", items=PRESET_ITEMS, default="AUTO")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        try:
            target = resolve_target(context, self.target)
            source = resolve_source(target, self.source)
            state = settings(target)
            src_preset = (
                self.source_preset
                if self.properties.is_property_set("source_preset")
                else state.source_preset
            )
            dst_preset = (
                self.target_preset
                if self.properties.is_property_set("target_preset")
                else state.target_preset
            )
            pairs = retarget_bake.detect_pairs(source, target, src_preset, dst_preset)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not pairs:
            self.report({"ERROR"}, f"No bones of '{source.name}' match bones of '{target.name}'.")
            return {"CANCELLED"}
        store_map(target, source, pairs)
        self.report({"INFO"}, f"Mapped {len(pairs)} bones of {source.name} onto {target.name}")
        return {"FINISHED"}


class GAVATAR_OT_retarget_map_edit(Operator):
    """Add a row to the bone map, or remove the selected row"""

    bl_idname = "gavatar.retarget_map_edit"
    bl_label = "Edit Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    action: EnumProperty(items=[("ADD", "Add", "Add a row"), ("REMOVE", "Remove", "Remove the selected row")])  # type: ignore[valid-type]
    target: StringProperty(name="Target")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        try:
            target = resolve_target(context, self.target)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        state = settings(target)
        if self.action == "ADD":
            state.pairs.add().name = "custom"
            state.active_pair = len(state.pairs) - 1
        elif 0 <= state.active_pair < len(state.pairs):
            state.pairs.remove(state.active_pair)
            state.active_pair = min(state.active_pair, len(state.pairs) - 1)
        return {"FINISHED"}


def map_for(target: Object, source: Object) -> list[retarget_bake.Pair]:
    """The target's stored bone map when it is for this source, else one detected (and stored)."""
    state = settings(target)
    pairs = stored_pairs(target) if state.source == source else []
    if not pairs:
        pairs = retarget_bake.detect_pairs(source, target, state.source_preset, state.target_preset)
        store_map(target, source, pairs)
    return pairs


class GAVATAR_OT_retarget(_Armatures, Operator):
    """Bake the source armature's motion onto the target as keyframes, bone by bone"""

    bl_idname = "gavatar.retarget"
    bl_label = "Retarget Motion"
    bl_options = {"REGISTER", "UNDO"}

    frame_start: IntProperty(name="Start", description="First frame (default: the scene's)", default=1)  # type: ignore[valid-type]
    frame_end: IntProperty(name="End", description="Last frame (default: the scene's)", default=250)  # type: ignore[valid-type]
    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION_ITEMS, default="SCALED")  # type: ignore[valid-type]
    new_action: BoolProperty(  # type: ignore[valid-type]
        name="New Action",
        description="Bake into a new action (the target's current action is kept)",
        default=True,
    )

    def execute(self, context: Context) -> OperatorResult:
        scene = context.scene
        start = self.frame_start if self.properties.is_property_set("frame_start") else scene.frame_start
        end = self.frame_end if self.properties.is_property_set("frame_end") else scene.frame_end
        try:
            target = resolve_target(context, self.target)
            source = resolve_source(target, self.source)
            state = settings(target)
            pairs = map_for(target, source)
            root = self.root_motion if self.properties.is_property_set("root_motion") else state.root_motion
            result = retarget_bake.bake(context, source, target, pairs, start, end, root, self.new_action)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for message in result.warnings:
            self.report({"WARNING"}, message)
        scaled = f", root motion x{result.ratio:.3f}" if result.root_bone else ""
        self.report(
            {"INFO"},
            f"Retargeted {result.bones} bones of {source.name} onto {target.name}, frames {start}..{end}"
            f"{scaled} into '{result.action}' ({result.seconds:.2f} s)",
        )
        return {"FINISHED"}


class GAVATAR_OT_retarget_preview(_Armatures, Operator):
    """Show ghosts of the target posed as the retarget would pose it on a few frames of the scene
    range (wireframes in front), without keying anything; run with Clear to remove them"""

    bl_idname = "gavatar.retarget_preview"
    bl_label = "Preview Retarget"
    bl_options = {"REGISTER", "UNDO"}

    count: IntProperty(  # type: ignore[valid-type]
        name="Ghosts", description="How many frames of the scene range to show", default=4, min=1,
        max=retarget_preview.MAX_GHOSTS,
    )  # fmt: skip
    clear: BoolProperty(name="Clear", description="Remove the target's ghosts")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        scene = context.scene
        try:
            target = resolve_target(context, self.target)
            if self.clear:
                removed = retarget_preview.clear(target)
                self.report({"INFO"}, f"Removed {removed} ghosts of {target.name}")
                return {"FINISHED"}
            source = resolve_source(target, self.source)
            frames = retarget_preview.preview_frames(scene.frame_start, scene.frame_end, self.count)
            pairs = map_for(target, source)
            ghosts, warnings = retarget_preview.show(
                context, source, target, pairs, frames, settings(target).root_motion
            )
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for message in warnings:
            self.report({"WARNING"}, message)
        shown = ", ".join(str(f) for f in frames)
        self.report({"INFO"}, f"{len(ghosts)} ghosts of {target.name} at frames {shown}; nothing was keyed")
        return {"FINISHED"}


register, unregister = class_registrar(
    (
        GAVATAR_OT_retarget_detect_map,
        GAVATAR_OT_retarget_map_edit,
        GAVATAR_OT_retarget,
        GAVATAR_OT_retarget_preview,
    )
)
