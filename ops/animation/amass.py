"""``gavatar.import_amass``: an AMASS clip (.npz, SMPL-H or SMPL-X layout) onto a body rig as keyframes."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from bpy.props import BoolProperty, EnumProperty, FloatVectorProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ...addon.preferences import get_preferences, model_files
from ...blender.animate import amass_import
from ...blender.animate.errors import AnimateError
from ...blender.animate.targets import body_rig_for_import
from ...core.motion import amass
from ...engine.registrar import OperatorResult, class_registrar

PELVIS_ITEMS = [
    ("AUTO", "Body Model", "The clip's body model from the AMASS body-model folder in the preferences; "
     "without one, the Clip Pelvis value"),
    ("RIG", "Rig", "The rig's own pelvis: exact when the clip was made with the rig's model"),
    ("CUSTOM", "Custom", "The Clip Pelvis value"),
]  # fmt: skip
FPS_ITEMS = [
    ("SCENE", "Scene Rate", "Resample the clip to the scene's frame rate (quaternion interpolation)"),
    ("SOURCE", "Clip Rate", "Keep the clip's own frames and set the scene's frame rate to the clip's"),
]


class GAVATAR_OT_import_amass(Operator):
    """Import an AMASS motion clip (.npz) onto a SMPL-X avatar rig as keyframes"""

    bl_idname = "gavatar.import_amass"
    bl_label = "Import AMASS Motion"
    bl_options = {"REGISTER", "UNDO", "PRESET"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})  # type: ignore[valid-type]
    target: StringProperty(  # type: ignore[valid-type]
        name="Target Rig",
        description="Armature of the SMPL-X / SMPL-H rig to animate (empty: the active rig, else a new "
        "SMPL-X rig)",
    )
    fps_mode: EnumProperty(name="Frame Rate", items=FPS_ITEMS, default="SCENE")  # type: ignore[valid-type]
    clip_start: IntProperty(  # type: ignore[valid-type]
        name="Clip Start", description="First frame of the clip to import (its own numbering, from 0)", min=0
    )
    clip_end: IntProperty(  # type: ignore[valid-type]
        name="Clip End", description="Last frame of the clip to import (-1: its last)", default=-1, min=-1
    )
    frame_start: IntProperty(  # type: ignore[valid-type]
        name="Start Frame", description="Scene frame of the clip's first key", default=1
    )
    set_scene_range: BoolProperty(  # type: ignore[valid-type]
        name="Set Scene Range", description="Make the scene's frame range the clip's", default=True
    )
    use_betas: BoolProperty(  # type: ignore[valid-type]
        name="Use Betas", description="Set the rig's Shape keys from the clip's body shape", default=False
    )
    ground: BoolProperty(  # type: ignore[valid-type]
        name="Ground",
        description="Raise or lower the clip so the lowest foot touches the rig's origin height",
        default=False,
    )
    in_place: BoolProperty(  # type: ignore[valid-type]
        name="In Place",
        description="No horizontal root motion: the pelvis stays over the rig's origin",
        default=False,
    )
    pelvis_source: EnumProperty(  # type: ignore[valid-type]
        name="Pelvis Offset",
        description="Where the clip body's rest pelvis comes from (AMASS translations are relative to the "
        "model origin, not to the pelvis)",
        items=PELVIS_ITEMS,
        default="AUTO",
    )
    clip_pelvis: FloatVectorProperty(  # type: ignore[valid-type]
        name="Clip Pelvis",
        description="Rest pelvis of the clip's body model in its own Y-up coordinates, used without its "
        "model file (SMPL-family bodies put it about 0.2 m below the origin)",
        size=3,
        default=tuple(amass.TYPICAL_PELVIS),
        subtype="TRANSLATION",
        unit="LENGTH",
    )
    new_action: BoolProperty(  # type: ignore[valid-type]
        name="New Action",
        description="Put the clip in a new action named after the file (the rig's current action is kept)",
        default=True,
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        if not self.properties.is_property_set("frame_start"):
            self.frame_start = context.scene.frame_start
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def _clip_pelvis(self, folder: str, clip: amass.AmassClip) -> tuple[np.ndarray | None, str]:
        """The clip body's rest pelvis (None: the rig's) and a note when it is an estimate."""
        if self.pelvis_source == "RIG":
            return None, ""
        custom = np.array(self.clip_pelvis, dtype=np.float64)
        if self.pelvis_source == "CUSTOM":
            return custom, ""
        pelvis, why = amass_import.body_model_pelvis(folder, clip)
        if pelvis is not None:
            return pelvis, ""
        label = "SMPL-H" if clip.layout == "SMPLH" else "SMPL-X"
        where = f" ({why})" if folder else ""
        return custom, (
            f"no {label} body model in the AMASS body-model folder{where}: the clip's pelvis offset is "
            f"estimated, so world positions may be off by a few centimetres"
        )

    def execute(self, context: Context) -> OperatorResult:
        path = Path(bpy.path.abspath(self.filepath))
        try:
            clip = amass.read_amass(path)  # read first: a bad file changes nothing
        except amass.MotionFileError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        prefs = get_preferences(context)
        pelvis, note = self._clip_pelvis(prefs.amass_model_dir, clip)
        options = amass_import.AmassOptions(
            fps_mode=self.fps_mode,
            clip_start=self.clip_start,
            clip_end=self.clip_end,
            frame_start=self.frame_start,
            use_betas=self.use_betas,
            ground=self.ground,
            in_place=self.in_place,
            new_action=self.new_action,
            set_scene_range=self.set_scene_range,
            clip_pelvis=pelvis,
        )
        try:
            found = body_rig_for_import(context, self.target, model_files(context))
        except AnimateError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        try:
            result = amass_import.import_clip(
                context, clip, found.parts, options, amass_import.clip_name(path)
            )
        except AnimateError as exc:
            found.discard()
            self.report({"ERROR"}, f"'{path.name}': {exc}")
            return {"CANCELLED"}
        except Exception:
            found.discard()
            raise  # the last line of defence (ops/last_defence.py) reports it in one sentence
        if note:
            result.warnings.append(note)
        for message in result.warnings:
            self.report({"WARNING"}, message)
        made = " (new SMPL-X rig)" if found.created else ""
        self.report(
            {"INFO"},
            f"Imported {path.name} onto {found.parts.armature.name}{made}: {result.frames} frames at "
            f"{result.fps:g} fps from frame {result.frame_start} into action '{result.action}' "
            f"({result.seconds:.2f} s)",
        )
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_import_amass,))
