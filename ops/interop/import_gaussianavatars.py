"""``gavatar.import_gaussianavatars``: a GaussianAvatars result folder (point_cloud.ply with
``binding_0`` + flame_param.npz) as an avatar on a FLAME rig with its motion keyed."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ...addon.preferences import get_preferences
from ...blender.avatar_io import AvatarImportError
from ...blender.interop import ga_import
from ...core.avatar.avatar_file import AvatarFileError
from ...core.avatar.binding import BindingError
from ...core.interop.errors import InteropError
from ...engine.registrar import OperatorResult, class_registrar
from ...engine.splats.data import SplatDataError
from ..animation.amass import FPS_ITEMS

_ERRORS = (InteropError, AvatarImportError, AvatarFileError, SplatDataError, BindingError)


class GAVATAR_OT_import_gaussianavatars(Operator):
    """Import a GaussianAvatars result (point_cloud.ply bound to FLAME + flame_param.npz) as an avatar
    on a FLAME rig, with the tracked motion as keyframes"""

    bl_idname = "gavatar.import_gaussianavatars"
    bl_label = "Import GaussianAvatars Result"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(  # type: ignore[valid-type]
        name="Folder",
        description="Result folder with point_cloud.ply and flame_param.npz (or point_cloud/iteration_N)",
        subtype="DIR_PATH",
    )
    filter_folder: BoolProperty(default=True, options={"HIDDEN"})  # type: ignore[valid-type]
    model_path: StringProperty(  # type: ignore[valid-type]
        name="FLAME Model",
        description="FLAME model file the result was trained with (empty: the one in the preferences)",
        subtype="FILE_PATH",
    )
    use_motion: BoolProperty(  # type: ignore[valid-type]
        name="Motion", description="Key the file's per-frame expression and pose on the rig", default=True
    )
    fps_mode: EnumProperty(name="Frame Rate", items=FPS_ITEMS, default="SOURCE")  # type: ignore[valid-type]
    source_fps: FloatProperty(  # type: ignore[valid-type]
        name="Tracking Rate", description="Frame rate of the tracked frames (their files do not say)",
        default=25.0, min=0.001,
    )  # fmt: skip
    frame_start: IntProperty(name="Start Frame", description="Scene frame of the first key", default=1)  # type: ignore[valid-type]
    set_scene_range: BoolProperty(name="Set Scene Range", default=True)  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        assert context.window_manager is not None
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Context) -> OperatorResult:
        if not self.directory:
            self.report({"ERROR"}, "Choose a GaussianAvatars result folder")
            return {"CANCELLED"}
        options = ga_import.GaImportOptions(
            model_path=self.model_path or get_preferences(context).flame_model_path,
            fps_mode=self.fps_mode,
            source_fps=self.source_fps,
            frame_start=self.frame_start,
            set_scene_range=self.set_scene_range,
            use_motion=self.use_motion,
        )
        try:
            result = ga_import.import_gaussianavatars(context, bpy.path.abspath(self.directory), options)
        except _ERRORS as error:
            self.report({"ERROR"}, f"Cannot import the GaussianAvatars result: {error}")
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot read '{self.directory}': {error.strerror or error}")
            return {"CANCELLED"}
        for note in result.notes:
            self.report({"WARNING"}, note)
        teeth = f", {result.teeth_dropped} teeth Gaussians left out" if result.teeth_dropped else ""
        self.report(
            {"INFO"},
            f"Imported {result.num_gaussians} Gaussians{teeth} on {result.imported.rig.armature.name} "
            f"with {result.frames} frames of motion ({result.seconds:.2f} s)",
        )
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_import_gaussianavatars,))
