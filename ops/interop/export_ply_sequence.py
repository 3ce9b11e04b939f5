"""``gavatar.export_ply_sequence``: the selected splat objects (avatars deformed as the engine draws
them) as one 3DGS PLY per frame."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ...blender.interop import ply_sequence
from ...core.avatar.ply import PlyError
from ...engine.registrar import OperatorResult, class_registrar
from ...engine.splats import data as splat_data
from ...engine.splats.data import SplatDataError
from ...engine.splats.driver_mesh import DriverMeshError


class GAVATAR_OT_export_ply_sequence(Operator):
    """Export the selected splat objects as a 3DGS PLY per frame (avatars deformed as drawn)"""

    bl_idname = "gavatar.export_ply_sequence"
    bl_label = "Export Gaussian PLY Sequence"
    bl_options = {"REGISTER"}

    directory: StringProperty(name="Folder", subtype="DIR_PATH")  # type: ignore[valid-type]
    filter_folder: BoolProperty(default=True, options={"HIDDEN"})  # type: ignore[valid-type]
    frame_start: IntProperty(name="Start", description="First frame (default: the scene's)", default=-1)  # type: ignore[valid-type]
    frame_end: IntProperty(name="End", description="Last frame (default: the scene's)", default=-1)  # type: ignore[valid-type]
    prefix: StringProperty(  # type: ignore[valid-type]
        name="File Prefix", description="Files are <prefix><frame, 6 digits>.ply (empty: '<object name>_')"
    )
    use_selection: BoolProperty(  # type: ignore[valid-type]
        name="Selected Only", description="The selected splat objects (else every visible one)", default=True
    )
    y_up: BoolProperty(  # type: ignore[valid-type]
        name="Y Up", description="Write Y-up coordinates (Blender's x, z, -y) instead of Blender's Z-up world"
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        scene = context.scene
        if not self.properties.is_property_set("frame_start"):
            self.frame_start = scene.frame_start
        if not self.properties.is_property_set("frame_end"):
            self.frame_end = scene.frame_end
        assert context.window_manager is not None
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Context) -> OperatorResult:
        if not self.directory:
            self.report({"ERROR"}, "Choose a folder for the PLY files")
            return {"CANCELLED"}
        scene = context.scene
        start = scene.frame_start if self.frame_start < 0 else self.frame_start
        end = scene.frame_end if self.frame_end < 0 else self.frame_end
        candidates = context.selected_objects if self.use_selection else context.visible_objects
        objects = [obj for obj in candidates if splat_data.is_splat_object(obj)]
        if not objects:
            where = "selected" if self.use_selection else "visible"
            self.report({"ERROR"}, f"No {where} splat objects to export")
            return {"CANCELLED"}
        wm = context.window_manager
        assert wm is not None
        wm.progress_begin(0, end - start + 1)
        try:
            result = ply_sequence.export_sequence(
                context, objects, bpy.path.abspath(self.directory), start, end,
                prefix=self.prefix, y_up=self.y_up, progress=lambda done, _total: wm.progress_update(done),
            )  # fmt: skip
        except (
            ply_sequence.SequenceExportError,
            PlyError,
            SplatDataError,
            DriverMeshError,
            ValueError,
        ) as error:
            self.report({"ERROR"}, f"Cannot export the PLY sequence: {error}")
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot write into '{self.directory}': {error.strerror or error}")
            return {"CANCELLED"}
        finally:
            wm.progress_end()
        self.report(
            {"INFO"},
            f"Wrote {len(result.files)} PLY files of {result.num_gaussians} Gaussians to "
            f"'{self.directory}' ({result.seconds:.2f} s)",
        )
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_export_ply_sequence,))
