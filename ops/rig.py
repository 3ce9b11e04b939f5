"""Rig operators: add a FLAME / SMPL-X rig, move its rest joints, apply and export parameter files."""

from __future__ import annotations

import time
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ..addon.preferences import get_preferences
from ..blender.rig import build, model_source, params_io, rest
from ..blender.rig.parts import active_rig
from ..core.rig import params as rig_params
from ..core.rig.errors import ModelFileError, ParamsError
from ..engine.registrar import OperatorResult, class_registrar
from .last_defence import as_sentence

FAMILY_ITEMS = [
    ("FLAME", "FLAME", "FLAME head model (root, neck, jaw, eyes)"),
    ("SMPLX", "SMPL-X", "SMPL-X body model with hands and face (55 joints)"),
]
GENDER_ITEMS = [
    ("NEUTRAL", "Neutral", "Gender-neutral model"),
    ("FEMALE", "Female", "Female model"),
    ("MALE", "Male", "Male model"),
]


class GAVATAR_OT_add_rig(Operator):
    """Add a FLAME or SMPL-X rig: armature, skinned mesh with shape, expression and pose-corrective keys"""

    bl_idname = "gavatar.add_rig"
    bl_label = "Add Avatar Rig"
    bl_options = {"REGISTER", "UNDO"}

    family: EnumProperty(name="Family", items=FAMILY_ITEMS, default="SMPLX")  # type: ignore[valid-type]
    model_path: StringProperty(  # type: ignore[valid-type]
        name="Model File",
        description="Model file or folder (empty: the one set in the preferences, else the free stand-in)",
        subtype="FILE_PATH",
    )
    gender: EnumProperty(  # type: ignore[valid-type]
        name="Gender", items=GENDER_ITEMS, default="NEUTRAL", description="Which file to take from a folder"
    )
    num_shape: IntProperty(  # type: ignore[valid-type]
        name="Shape Keys",
        description="Identity keys to make (at most the model's)",
        default=300,
        min=0,
        max=400,
    )
    num_expression: IntProperty(  # type: ignore[valid-type]
        name="Expression Keys",
        description="Expression keys to make (at most the model's)",
        default=100,
        min=0,
        max=400,
    )
    correctives: BoolProperty(  # type: ignore[valid-type]
        name="Pose Correctives",
        description="Shape keys driven live by the bone rotations, as the model defines them",
        default=True,
    )

    def execute(self, context: Context) -> OperatorResult:
        prefs = get_preferences(context)
        preference = prefs.flame_model_path if self.family == "FLAME" else prefs.smplx_model_path
        start = time.perf_counter()
        try:
            path = model_source.resolve_model_path(
                self.family,
                bpy.path.abspath(self.model_path),
                bpy.path.abspath(preference),
                self.gender,
                prefs.cache_dir,
            )
            model = model_source.load(self.family, path)
        except (model_source.ModelSourceError, ModelFileError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        try:
            parts = build.build_rig(
                model,
                context,
                num_shape=self.num_shape,
                num_expression=self.num_expression,
                correctives=self.correctives,
                model_path=str(path),
            )
        except (ModelFileError, ValueError) as exc:  # build_rig has removed what it made
            self.report({"ERROR"}, as_sentence(f"Could not build a rig from '{path.name}': {exc}"))
            return {"CANCELLED"}
        info = parts.info
        keys = len(parts.mesh.data.shape_keys.key_blocks) - 1  # type: ignore[union-attr]
        self.report(
            {"INFO"},
            f"Added {parts.armature.name} from {path.name}: {info.num_shape} shape, {info.num_expression} "
            f"expression, {keys - info.num_shape - info.num_expression} corrective keys "
            f"({time.perf_counter() - start:.1f} s)",
        )
        return {"FINISHED"}


class GAVATAR_OT_update_rig_joints(Operator):
    """Move the active rig's rest bones to the joints of its current shape (the pose already follows it)"""

    bl_idname = "gavatar.update_rig_joints"
    bl_label = "Update Rest Joints"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: Context) -> bool:
        return active_rig(context) is not None

    def execute(self, context: Context) -> OperatorResult:
        parts = active_rig(context)
        assert parts is not None
        moved = rest.bake_rest_joints(parts, context)
        self.report(
            {"INFO"},
            f"Rest joints moved by up to {moved * 1000:.2f} mm" if moved else "Rest joints are up to date",
        )
        return {"FINISHED"}


def _select_file(context: Context, operator: Operator) -> OperatorResult:
    assert context.window_manager is not None
    context.window_manager.fileselect_add(operator)
    return {"RUNNING_MODAL"}


class GAVATAR_OT_apply_params(Operator):
    """Set the active rig's pose, shape and expression from a parameter file (.npz, dataset keys)"""

    bl_idname = "gavatar.apply_params"
    bl_label = "Apply Rig Parameters"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})  # type: ignore[valid-type]
    keyframe: BoolProperty(  # type: ignore[valid-type]
        name="Keyframe",
        description="Insert keys (every frame of a sequence, from the start frame)",
        default=False,
    )
    frame_start: IntProperty(  # type: ignore[valid-type]
        name="Start Frame", description="Frame of the first keys (default: the current frame)", default=1
    )
    frame_index: IntProperty(  # type: ignore[valid-type]
        name="Sequence Frame",
        description="Which frame of a sequence to set when not keyframing",
        default=0,
        min=0,
    )

    @classmethod
    def poll(cls, context: Context) -> bool:
        return active_rig(context) is not None

    def invoke(self, context: Context, event: Event) -> OperatorResult:
        if not self.properties.is_property_set("frame_start"):
            self.frame_start = context.scene.frame_current
        return _select_file(context, self)

    def execute(self, context: Context) -> OperatorResult:
        parts = active_rig(context)
        assert parts is not None
        start = (
            self.frame_start
            if self.properties.is_property_set("frame_start")
            else context.scene.frame_current
        )
        try:
            params = rig_params.read_params_file(bpy.path.abspath(self.filepath))
            report = params_io.apply_params(
                parts,
                params,
                keyframe=self.keyframe,
                frame_start=start,
                frame_index=self.frame_index,
                scene=context.scene,
            )
        except (ParamsError, ValueError) as exc:
            self.report({"ERROR"}, f"'{Path(self.filepath).name}': {exc}")
            return {"CANCELLED"}
        for message in report.messages():
            self.report({"WARNING"}, message)
        what = f"{report.frames} frames keyed from frame {start}" if self.keyframe else "one frame"
        self.report({"INFO"}, f"Applied {Path(self.filepath).name} to {parts.armature.name}: {what}")
        return {"FINISHED"}


class GAVATAR_OT_export_params(Operator):
    """Write the active rig's pose, shape and expression as a parameter file (.npz, dataset keys)"""

    bl_idname = "gavatar.export_params"
    bl_label = "Export Rig Parameters"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})  # type: ignore[valid-type]
    use_frame_range: BoolProperty(  # type: ignore[valid-type]
        name="Frame Range",
        description="Write every frame of the range (a sequence), not only the current one",
    )
    frame_start: IntProperty(name="Start", description="First frame (default: the scene's)", default=1)  # type: ignore[valid-type]
    frame_end: IntProperty(name="End", description="Last frame (default: the scene's)", default=250)  # type: ignore[valid-type]
    pad_to_model: BoolProperty(  # type: ignore[valid-type]
        name="Full Model Sizes",
        description="Write as many shape / expression values as the model has (zeros beyond the rig's keys)",
        default=True,
    )

    @classmethod
    def poll(cls, context: Context) -> bool:
        return active_rig(context) is not None

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        if not self.filepath:
            parts = active_rig(context)
            folder = Path(bpy.path.abspath("//")) if bpy.data.filepath else Path.home()
            name = bpy.path.clean_name(parts.armature.name if parts else "rig")
            self.filepath = str(folder / f"{name}_params.npz")
        return _select_file(context, self)

    def _range(self, context: Context) -> tuple[int, int]:
        scene = context.scene
        start = self.frame_start if self.properties.is_property_set("frame_start") else scene.frame_start
        end = self.frame_end if self.properties.is_property_set("frame_end") else scene.frame_end
        return start, end

    def execute(self, context: Context) -> OperatorResult:
        parts = active_rig(context)
        assert parts is not None
        start, end = self._range(context)
        try:
            assert context.scene is not None
            data = params_io.export_params(
                parts,
                context.scene,
                frame_start=start if self.use_frame_range else None,
                frame_end=end if self.use_frame_range else None,
                pad_to_model=self.pad_to_model,
            )
            written = rig_params.write_params_file(bpy.path.abspath(self.filepath), data)
        except (ParamsError, OSError) as exc:
            self.report({"ERROR"}, f"Could not export parameters: {exc}")
            return {"CANCELLED"}
        frames = f"frames {start}..{end}" if self.use_frame_range else f"frame {context.scene.frame_current}"
        self.report({"INFO"}, f"Wrote {written.name} ({frames})")
        return {"FINISHED"}


register, unregister = class_registrar(
    (GAVATAR_OT_add_rig, GAVATAR_OT_update_rig_joints, GAVATAR_OT_apply_params, GAVATAR_OT_export_params)
)
