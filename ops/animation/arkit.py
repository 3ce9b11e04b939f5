"""ARKit-52 curves: ``gavatar.import_arkit`` (a capture's CSV/JSON onto a head rig as keyframes) and
the mapping table's operators (fit from a rig with ARKit expressions, fill, clear, edit)."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Object, Operator

from ...blender.animate import arkit_import, arkit_map
from ...blender.animate.errors import AnimateError
from ...blender.animate.targets import face_rig, named_rig
from ...blender.rig.parts import RigParts
from ...core.motion import arkit
from ...core.motion.errors import MotionFileError
from ...engine.registrar import OperatorResult, class_registrar
from .amass import FPS_ITEMS

UNIT_ITEMS = [
    ("RADIANS", "Radians", "Head and eye rotation columns are in radians"),
    ("DEGREES", "Degrees", "Head and eye rotation columns are in degrees"),
]
FACE_FAMILIES = ("FLAME", "SMPLX")


class GAVATAR_OT_import_arkit(Operator):
    """Key ARKit-52 blendshape curves (Live Link Face CSV, MediaPipe JSON, a CSV of named weights)
    onto a head rig's expressions, neck and eyes"""

    bl_idname = "gavatar.import_arkit"
    bl_label = "Import ARKit Curves"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.csv;*.txt;*.json", options={"HIDDEN"})  # type: ignore[valid-type]
    target: StringProperty(name="Target Rig", description="Armature of the head rig (empty: the active rig)")  # type: ignore[valid-type]
    mapping: EnumProperty(name="Mapping", items=arkit_import.MAPPING_ITEMS, default="AUTO")  # type: ignore[valid-type]
    fps_mode: EnumProperty(name="Frame Rate", items=FPS_ITEMS, default="SCENE")  # type: ignore[valid-type]
    source_fps: FloatProperty(  # type: ignore[valid-type]
        name="Capture Rate",
        description="Frame rate of files without times (0: 60 fps, or the file's own)",
        default=0.0,
        min=0.0,
    )
    timecode_rate: FloatProperty(  # type: ignore[valid-type]
        name="Timecode Rate",
        description="Frame rate of the timecodes' frame field (0: inferred from the file)",
        default=0.0,
        min=0.0,
    )
    rotation_unit: EnumProperty(name="Rotation Unit", items=UNIT_ITEMS, default="RADIANS")  # type: ignore[valid-type]
    clip_start: FloatProperty(  # type: ignore[valid-type]
        name="Clip Start", description="Seconds into the clip", default=0.0, min=0.0, unit="TIME_ABSOLUTE"
    )
    clip_end: FloatProperty(  # type: ignore[valid-type]
        name="Clip End", description="Seconds into the clip (-1: its end)", default=-1.0, min=-1.0
    )
    frame_start: IntProperty(name="Start Frame", description="Scene frame of the first key", default=1)  # type: ignore[valid-type]
    strength: FloatProperty(  # type: ignore[valid-type]
        name="Strength", description="Scale of the ARKit weights", default=1.0, soft_min=0.0, soft_max=2.0
    )
    use_expression: BoolProperty(name="Expressions", default=True)  # type: ignore[valid-type]
    use_head: BoolProperty(name="Head Rotation", description="HeadYaw/Pitch/Roll onto the neck", default=True)  # type: ignore[valid-type]
    head_relative: BoolProperty(  # type: ignore[valid-type]
        name="Head Relative to Start",
        description="Head rotation relative to the clip's first frame (when the capture's camera was not "
        "straight in front of the face)",
    )
    use_eyes: BoolProperty(  # type: ignore[valid-type]
        name="Eye Rotation", description="Left/RightEyeYaw/Pitch/Roll onto the eyes", default=True
    )
    new_action: BoolProperty(  # type: ignore[valid-type]
        name="New Action", description="Key into new actions (the current ones are kept)", default=True
    )
    set_scene_range: BoolProperty(name="Set Scene Range", default=True)  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        if not self.properties.is_property_set("frame_start"):
            self.frame_start = context.scene.frame_start
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Context) -> OperatorResult:
        path = Path(bpy.path.abspath(self.filepath))
        try:
            clip = arkit.read_arkit(
                path,
                fps=self.source_fps or None,
                timecode_rate=self.timecode_rate or None,
                rotation_unit=self.rotation_unit,
            )  # read first: a bad file changes nothing
            parts = face_rig(context, self.target)
        except (MotionFileError, AnimateError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        options = arkit_import.ArkitOptions(
            fps_mode=self.fps_mode,
            clip_start=self.clip_start,
            clip_end=self.clip_end,
            frame_start=self.frame_start,
            mapping=self.mapping,
            strength=self.strength,
            use_expression=self.use_expression,
            use_head=self.use_head,
            head_relative=self.head_relative,
            use_eyes=self.use_eyes,
            new_action=self.new_action,
            set_scene_range=self.set_scene_range,
        )
        try:
            result = arkit_import.apply_clip(
                context, parts, clip, options, arkit_import.clip_name(self.filepath)
            )
        except AnimateError as exc:
            self.report({"ERROR"}, f"'{path.name}': {exc}")
            return {"CANCELLED"}
        for message in result.warnings:
            self.report({"WARNING"}, message)
        keyed = []
        if result.expressions:
            label = "by name" if result.mapping == "NAMES" else "through the mapping table"
            keyed.append(f"{result.expressions} expressions ({label})")
        if result.joints:
            keyed.append(", ".join(result.joints))
        self.report(
            {"INFO"},
            f"Keyed {' and '.join(keyed)} of {path.name} on {parts.armature.name}: {result.frames} frames at "
            f"{result.fps:g} fps from frame {self.frame_start} ({result.seconds:.2f} s)",
        )
        return {"FINISHED"}


def _target(context: Context, name: str) -> RigParts:
    return face_rig(context, name)


class GAVATAR_OT_arkit_map_fit(Operator):
    """Fit the rig's ARKit mapping table by least squares from a rig whose expressions carry ARKit names
    (same mesh topology): each ARKit shape becomes the expression coefficients closest to it"""

    bl_idname = "gavatar.arkit_map_fit"
    bl_label = "Fit ARKit Mapping"
    bl_options = {"REGISTER", "UNDO"}

    target: StringProperty(name="Target Rig", description="Armature of the rig to map onto (empty: active)")  # type: ignore[valid-type]
    source: StringProperty(  # type: ignore[valid-type]
        name="Source Rig", description="Armature with ARKit-named expressions (empty: the table's Fit From)"
    )

    def execute(self, context: Context) -> OperatorResult:
        try:
            parts = _target(context, self.target)
            state = arkit_map.settings(parts.armature)
            source_obj: Object | None = state.source
            if self.source:
                source = named_rig(
                    self.source, FACE_FAMILIES, "ARKit expressions come from FLAME or SMPL-X rigs"
                )
            elif source_obj is not None:
                source = named_rig(
                    source_obj.name, FACE_FAMILIES, "ARKit expressions come from FLAME or SMPL-X rigs"
                )
            else:
                raise AnimateError("Choose the rig to fit from (a rig with ARKit-named expressions).")
            if source.armature == parts.armature:
                raise AnimateError("The source and the target are the same rig.")
            fit = arkit_map.fit_from_rig(parts, source, float(state.ridge))
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        kept = arkit_map.write_table(parts.armature, fit.matrix)
        state.fit_error = fit.worst
        self.report(
            {"INFO"},
            f"Fitted {len(fit.fitted)} ARKit shapes of {source.armature.name} onto {parts.armature.name}'s "
            f"{int(parts.info.num_expression)} expressions ({kept} coefficients); worst relative residual "
            f"{fit.worst:.3g}",
        )
        return {"FINISHED"}


class GAVATAR_OT_arkit_map_clear(Operator):
    """Empty the rig's ARKit mapping table (ARKit weights then map by expression name)"""

    bl_idname = "gavatar.arkit_map_clear"
    bl_label = "Clear ARKit Mapping"
    bl_options = {"REGISTER", "UNDO"}

    target: StringProperty(name="Target Rig")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        try:
            parts = _target(context, self.target)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        state = arkit_map.settings(parts.armature)
        state.entries.clear()
        state.fit_error = 0.0
        return {"FINISHED"}


class GAVATAR_OT_arkit_map_fill(Operator):
    """List the 52 ARKit shapes in the table so their coefficients can be set by hand"""

    bl_idname = "gavatar.arkit_map_fill"
    bl_label = "List ARKit Shapes"
    bl_options = {"REGISTER", "UNDO"}

    target: StringProperty(name="Target Rig")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        try:
            parts = _target(context, self.target)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        arkit_map.ensure_entries(parts.armature)
        return {"FINISHED"}


class GAVATAR_OT_arkit_coefficient(Operator):
    """Add or remove a coefficient of the selected ARKit shape"""

    bl_idname = "gavatar.arkit_coefficient"
    bl_label = "Edit ARKit Coefficient"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    action: EnumProperty(items=[("ADD", "Add", ""), ("REMOVE", "Remove", "")])  # type: ignore[valid-type]
    target: StringProperty(name="Target Rig")  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        try:
            parts = _target(context, self.target)
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        state = arkit_map.settings(parts.armature)
        if not 0 <= state.active_entry < len(state.entries):
            self.report({"ERROR"}, "Select an ARKit shape of the table first.")
            return {"CANCELLED"}
        entry = state.entries[state.active_entry]
        if self.action == "ADD":
            used = {c.index for c in entry.coefficients}
            item = entry.coefficients.add()
            item.index = next(i for i in range(len(used) + 1) if i not in used)
            item.value = 1.0
            entry.active_coefficient = len(entry.coefficients) - 1
        elif 0 <= entry.active_coefficient < len(entry.coefficients):
            entry.coefficients.remove(entry.active_coefficient)
            entry.active_coefficient = max(0, entry.active_coefficient - 1)
        return {"FINISHED"}


register, unregister = class_registrar(
    (
        GAVATAR_OT_import_arkit,
        GAVATAR_OT_arkit_map_fit,
        GAVATAR_OT_arkit_map_clear,
        GAVATAR_OT_arkit_map_fill,
        GAVATAR_OT_arkit_coefficient,
    )
)
