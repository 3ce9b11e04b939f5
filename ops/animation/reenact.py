"""``gavatar.reenact``: a tracked FLAME parameter sequence (a flame_param folder or one .npz) onto a head
rig as keyframes: expression reenactment."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ...blender.animate import reenact
from ...blender.animate.errors import AnimateError
from ...blender.animate.targets import face_rig
from ...core.motion import flame_sequence
from ...core.motion.errors import MotionFileError
from ...engine.registrar import OperatorResult, class_registrar
from .amass import FPS_ITEMS


class GAVATAR_OT_reenact(Operator):
    """Key a tracked FLAME sequence (expression, jaw, eyes, neck, head pose) onto a head rig"""

    bl_idname = "gavatar.reenact"
    bl_label = "Apply FLAME Sequence"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filepath: StringProperty(  # type: ignore[valid-type]
        name="Sequence",
        description="A flame_param folder (one .npz per frame), a dataset folder holding one, or one .npz "
        "with a leading frame axis",
        subtype="FILE_PATH",
    )
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})  # type: ignore[valid-type]
    target: StringProperty(name="Target Rig", description="Armature of the head rig (empty: the active rig)")  # type: ignore[valid-type]
    fps_mode: EnumProperty(name="Frame Rate", items=FPS_ITEMS, default="SCENE")  # type: ignore[valid-type]
    source_fps: FloatProperty(  # type: ignore[valid-type]
        name="Tracking Rate",
        description="Frame rate of the tracking when its files do not say",
        default=25.0,
        min=0.001,
    )
    clip_start: IntProperty(name="Sequence Start", description="First frame of the sequence (from 0)", min=0)  # type: ignore[valid-type]
    clip_end: IntProperty(name="Sequence End", description="Last frame (-1: its last)", default=-1, min=-1)  # type: ignore[valid-type]
    frame_start: IntProperty(name="Start Frame", description="Scene frame of the first key", default=1)  # type: ignore[valid-type]
    set_scene_range: BoolProperty(name="Set Scene Range", default=True)  # type: ignore[valid-type]
    use_expression: BoolProperty(name="Expression", default=True)  # type: ignore[valid-type]
    use_jaw: BoolProperty(name="Jaw", default=True)  # type: ignore[valid-type]
    use_eyes: BoolProperty(name="Eyes", default=True)  # type: ignore[valid-type]
    use_neck: BoolProperty(name="Neck", default=True)  # type: ignore[valid-type]
    use_rotation: BoolProperty(  # type: ignore[valid-type]
        name="Head Rotation", description="The tracked global head rotation", default=True
    )
    use_translation: BoolProperty(  # type: ignore[valid-type]
        name="Head Translation",
        description="The tracked head position (moves the head away from the rig's place)",
    )
    use_shape: BoolProperty(  # type: ignore[valid-type]
        name="Identity",
        description="Also take the tracked identity (shape, static offsets): self-reenactment",
    )
    new_action: BoolProperty(  # type: ignore[valid-type]
        name="New Action", description="Key into new actions (the current ones are kept)", default=True
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        if not self.properties.is_property_set("frame_start"):
            self.frame_start = context.scene.frame_start
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Context) -> OperatorResult:
        path = Path(bpy.path.abspath(self.filepath))
        try:
            sequence = flame_sequence.read_flame_sequence(path)  # read first: a bad file changes nothing
            parts = face_rig(context, self.target)
        except (MotionFileError, AnimateError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        options = reenact.ReenactOptions(
            fps_mode=self.fps_mode,
            source_fps=self.source_fps,
            clip_start=self.clip_start,
            clip_end=self.clip_end,
            frame_start=self.frame_start,
            use_expression=self.use_expression,
            use_jaw=self.use_jaw,
            use_eyes=self.use_eyes,
            use_neck=self.use_neck,
            use_rotation=self.use_rotation,
            use_translation=self.use_translation,
            use_shape=self.use_shape,
            new_action=self.new_action,
            set_scene_range=self.set_scene_range,
        )
        try:
            result = reenact.apply_sequence(
                context, parts, sequence, options, reenact.sequence_name(self.filepath)
            )
        except AnimateError as exc:
            self.report({"ERROR"}, f"'{path.name}': {exc}")
            return {"CANCELLED"}
        for message in result.warnings:
            self.report({"WARNING"}, message)
        self.report(
            {"INFO"},
            f"Keyed {', '.join(result.keyed)} of {path.name} on {parts.armature.name}: "
            f"{result.frames} frames at {result.fps:g} fps from frame {self.frame_start} "
            f"({result.seconds:.2f} s)",
        )
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_reenact,))
