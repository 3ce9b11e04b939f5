"""``gavatar.import_ply`` / ``gavatar.export_ply``: plain 3DGS PLY files <-> splat objects.

Import makes one static splat object; the PLY's coordinates are the object's space, placed as
Blender world coordinates unless ``y_up`` asks for the usual Y-up -> Z-up turn (then the object
carries the turn and the data stays as in the file). Export writes the selected (or all visible)
splat objects as one static PLY in Blender world coordinates (bound splats as posed at the
current frame), or in Y-up coordinates on request.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from bpy.props import BoolProperty, StringProperty
from bpy.types import Context, Event, Object, Operator

from ..core.avatar.gaussians import GaussianSet
from ..core.avatar.ply import PlyError, read_ply, write_ply
from ..core.avatar.transform import Y_UP_FROM_Z_UP, transform_gaussians
from ..engine.registrar import OperatorResult, class_registrar
from ..engine.splats import data as splat_data
from ..engine.splats.data import SplatArrays, SplatDataError
from ..engine.splats.driver_mesh import DriverMeshError
from ..engine.splats.runtime import posed_gaussians

Y_UP_ROTATION = (math.radians(90.0), 0.0, 0.0)


def import_ply_file(
    context: Context, filepath: str, *, y_up: bool = False, name: str | None = None
) -> Object:
    """Reads a 3DGS PLY into a new static splat object in the active collection.

    Raises PlyError / SplatDataError / OSError with a clear message; nothing is created then.
    """
    gaussians = read_ply(filepath)
    arrays = SplatArrays.from_gaussians(gaussians)
    obj = splat_data.create_splat_object(
        name or Path(filepath).stem, arrays, collection=context.collection or context.scene.collection
    )
    if y_up:
        obj.rotation_mode = "XYZ"
        obj.rotation_euler = Y_UP_ROTATION
    for other in context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    if context.view_layer is not None:
        context.view_layer.objects.active = obj
    return obj


def world_gaussians(obj: Object, depsgraph: bpy.types.Depsgraph) -> GaussianSet:
    """A splat object's Gaussians in Blender world coordinates (bound ones posed at this frame,
    sequences at the frame they show)."""
    local = posed_gaussians(obj, depsgraph)
    matrix = np.array(obj.evaluated_get(depsgraph).matrix_world, dtype=np.float64)
    return transform_gaussians(local, matrix)


def _merge(sets: list[GaussianSet]) -> GaussianSet:
    degree = max(g.sh_degree for g in sets)
    sets = [g.with_sh_degree(degree) for g in sets]
    return GaussianSet(
        means=np.concatenate([g.means for g in sets]),
        quats=np.concatenate([g.quats for g in sets]),
        log_scales=np.concatenate([g.log_scales for g in sets]),
        opacity_logits=np.concatenate([g.opacity_logits for g in sets]),
        sh=np.concatenate([g.sh for g in sets]),
    )


def export_ply_file(context: Context, filepath: str, objects: list[Object], *, y_up: bool = False) -> int:
    """Writes the objects' Gaussians as one PLY (atomically); returns the number written."""
    depsgraph = context.evaluated_depsgraph_get()
    sets = [world_gaussians(obj, depsgraph) for obj in objects]
    merged = _merge(sets)
    if y_up:
        merged = transform_gaussians(merged, Y_UP_FROM_Z_UP)
    write_ply(filepath, merged.astype(np.float32), comment="exported by Gaussian Avatar for Blender")
    return len(merged)


def open_file_browser(operator: Operator, context: Context) -> OperatorResult:
    assert context.window_manager is not None
    context.window_manager.fileselect_add(operator)
    return {"RUNNING_MODAL"}


def default_export_path(suffix: str) -> str:
    blend = bpy.data.filepath
    return str(Path(blend).with_suffix(suffix)) if blend else "untitled" + suffix


class GAVATAR_OT_import_ply(Operator):
    """Import a 3D Gaussian Splatting PLY as a splat object"""

    bl_idname = "gavatar.import_ply"
    bl_label = "Import Gaussian PLY"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.ply", options={"HIDDEN"})  # type: ignore[valid-type]
    y_up: BoolProperty(  # type: ignore[valid-type]
        name="Y Up",
        description="The file is Y-up (most 3DGS scenes and avatar datasets): turn it to Blender's Z-up",
        default=False,
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        return open_file_browser(self, context)

    def execute(self, context: Context) -> OperatorResult:
        if not self.filepath:
            self.report({"ERROR"}, "Choose a PLY file")
            return {"CANCELLED"}
        try:
            obj = import_ply_file(context, self.filepath, y_up=self.y_up)
        except (PlyError, SplatDataError) as error:
            self.report({"ERROR"}, f"Cannot import the PLY: {error}")
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot read '{self.filepath}': {error.strerror or error}")
            return {"CANCELLED"}
        count = len(obj.data.vertices)  # type: ignore[union-attr]
        self.report({"INFO"}, f"Imported {count} Gaussians as '{obj.name}'")
        return {"FINISHED"}


class GAVATAR_OT_export_ply(Operator):
    """Export splat objects as one static 3D Gaussian Splatting PLY (world coordinates)"""

    bl_idname = "gavatar.export_ply"
    bl_label = "Export Gaussian PLY"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    check_existing: BoolProperty(default=True, options={"HIDDEN"})  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.ply", options={"HIDDEN"})  # type: ignore[valid-type]
    use_selection: BoolProperty(  # type: ignore[valid-type]
        name="Selected Only",
        description="Export the selected splat objects (else every visible one)",
        default=True,
    )
    y_up: BoolProperty(  # type: ignore[valid-type]
        name="Y Up",
        description="Write Y-up coordinates (Blender's x, z, -y) instead of Blender's Z-up world",
        default=False,
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        if not self.filepath:
            self.filepath = default_export_path(".ply")
        return open_file_browser(self, context)

    def execute(self, context: Context) -> OperatorResult:
        if not self.filepath:
            self.report({"ERROR"}, "Choose where to write the PLY")
            return {"CANCELLED"}
        candidates = context.selected_objects if self.use_selection else context.visible_objects
        objects = [obj for obj in candidates if splat_data.is_splat_object(obj)]
        if not objects:
            where = "selected" if self.use_selection else "visible"
            self.report({"ERROR"}, f"No {where} splat objects to export")
            return {"CANCELLED"}
        try:
            count = export_ply_file(context, self.filepath, objects, y_up=self.y_up)
        except (PlyError, SplatDataError, DriverMeshError, ValueError) as error:
            self.report({"ERROR"}, f"Cannot export the PLY: {error}")
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot write '{self.filepath}': {error.strerror or error}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {count} Gaussians to '{self.filepath}'")
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_import_ply, GAVATAR_OT_export_ply))
