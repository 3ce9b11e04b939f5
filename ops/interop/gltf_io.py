"""``gavatar.export_gltf_avatar`` / ``gavatar.import_gltf_avatar``: an avatar with its rig as glTF
(Blender's exporter) plus a sidecar .gavatar of the Gaussians and binding, and back."""

from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ...blender.avatar_io import AvatarImportError
from ...blender.interop import gltf_export, gltf_import
from ...core.avatar.avatar_file import AvatarFileError
from ...core.avatar.binding import BindingError
from ...core.interop.errors import InteropError
from ...engine.registrar import OperatorResult, class_registrar
from ...engine.splats import data as splat_data
from ...engine.splats.data import SplatDataError
from ...engine.splats.driver_mesh import DriverMeshError, driver_armature
from ..ply_io import default_export_path, open_file_browser

_ERRORS = (InteropError, AvatarFileError, AvatarImportError, SplatDataError, BindingError, DriverMeshError)


def _avatar_of_active(context: Context) -> bpy.types.Object | None:
    """The active splat object, or the one bound to the active driver mesh or its armature."""
    obj = context.active_object
    if obj is None or splat_data.is_splat_object(obj):
        return obj
    for candidate in context.scene.objects:
        if splat_data.is_splat_object(candidate):
            driver = splat_data.splat_driver(candidate)
            if driver is not None and (driver == obj or driver_armature(driver) == obj):
                return candidate
    return None


class GAVATAR_OT_export_gltf_avatar(Operator):
    """Export the active avatar's rig (driver mesh, armature, shape keys, animation) as glTF, with its
    Gaussians and binding in a .gavatar sidecar beside it"""

    bl_idname = "gavatar.export_gltf_avatar"
    bl_label = "Export Avatar as glTF + Sidecar"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.glb", options={"HIDDEN"})  # type: ignore[valid-type]
    frame_start: IntProperty(name="Start", description="First frame (-1: the scene's)", default=-1)  # type: ignore[valid-type]
    frame_end: IntProperty(name="End", description="Last frame (-1: the scene's)", default=-1)  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        if not self.filepath:
            self.filepath = default_export_path(".glb")
        return open_file_browser(self, context)

    def execute(self, context: Context) -> OperatorResult:
        obj = _avatar_of_active(context)
        if obj is None or not splat_data.is_splat_object(obj):
            self.report(
                {"ERROR"}, "Make an avatar (its splat object, driver mesh or armature) the active object"
            )
            return {"CANCELLED"}
        if not self.filepath:
            self.report({"ERROR"}, "Choose where to write the .glb")
            return {"CANCELLED"}
        scene = context.scene
        start = scene.frame_start if self.frame_start < 0 else self.frame_start
        end = scene.frame_end if self.frame_end < 0 else self.frame_end
        try:
            result = gltf_export.export_gltf_avatar(context, obj, bpy.path.abspath(self.filepath), start, end)
        except _ERRORS as error:
            self.report({"ERROR"}, f"Cannot export the avatar as glTF: {error}")
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot write '{self.filepath}': {error.strerror or error}")
            return {"CANCELLED"}
        self.report(
            {"INFO"},
            f"Wrote '{result.gltf.name}' ({result.frames} frames) and '{result.sidecar.name}' "
            f"({result.num_gaussians} Gaussians) in {result.seconds:.2f} s",
        )
        return {"FINISHED"}


class GAVATAR_OT_import_gltf_avatar(Operator):
    """Import an avatar exported as glTF + .gavatar sidecar: the rig from the glTF, the Gaussians bound
    to its mesh again"""

    bl_idname = "gavatar.import_gltf_avatar"
    bl_label = "Import Avatar from glTF + Sidecar"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.glb;*.gltf", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        return open_file_browser(self, context)

    def execute(self, context: Context) -> OperatorResult:
        if not self.filepath:
            self.report({"ERROR"}, "Choose a .glb exported with its .gavatar sidecar")
            return {"CANCELLED"}
        try:
            result = gltf_import.import_gltf_avatar(context, bpy.path.abspath(self.filepath))
        except _ERRORS as error:
            self.report({"ERROR"}, f"Cannot import the glTF avatar: {error}")
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot read '{self.filepath}': {error.strerror or error}")
            return {"CANCELLED"}
        count = len(result.splats.data.vertices)  # type: ignore[union-attr]
        self.report(
            {"INFO"},
            f"Imported {count} Gaussians on '{result.mesh.name}' / '{result.armature.name}' "
            f"({result.seconds:.2f} s)",
        )
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_export_gltf_avatar, GAVATAR_OT_import_gltf_avatar))
