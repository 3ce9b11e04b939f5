"""``gavatar.import_avatar`` / ``gavatar.export_avatar``: .gavatar files <-> a rig + splat object.

The work is in blender/avatar_io.py (``import_avatar``, ``export_avatar``), which other
operators call directly.
"""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import Context, Event, Operator

from ..addon.preferences import model_files
from ..blender import avatar_io as avatar_import
from ..blender import avatar_parts
from ..core.avatar.avatar_file import AvatarFileError
from ..core.avatar.binding import BindingError
from ..core.untrusted.errors import display_name
from ..engine.registrar import OperatorResult, class_registrar
from ..engine.splats import data as splat_data
from ..engine.splats.data import SplatDataError
from ..engine.splats.driver_mesh import DriverMeshError
from .last_defence import as_sentence
from .ply_io import default_export_path, open_file_browser

RIG_ITEMS = [
    ("AUTO", "Automatic", "Onto the active rig when one is selected, else onto a new rig"),
    ("NEW", "New Rig", "Build a new rig from the model file the avatar was trained with"),
    ("ACTIVE", "Active Rig", "Onto the active rig (it must be the avatar's family and model)"),
]

_IMPORT_ERRORS = (AvatarFileError, avatar_import.AvatarImportError, SplatDataError, BindingError, ValueError)


class GAVATAR_OT_import_avatar(Operator):
    """Import a Gaussian avatar (.gavatar): a rig with its identity and the Gaussians bound to it"""

    bl_idname = "gavatar.import_avatar"
    bl_label = "Import Gaussian Avatar"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.gavatar", options={"HIDDEN"})  # type: ignore[valid-type]
    rig: EnumProperty(name="Rig", items=RIG_ITEMS, default="AUTO")  # type: ignore[valid-type]
    model_path: StringProperty(  # type: ignore[valid-type]
        name="Model File",
        description="Rig model file for a new rig (empty: the one set in the preferences, else the stand-in)",
        subtype="FILE_PATH",
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        return open_file_browser(self, context)

    def execute(self, context: Context) -> OperatorResult:
        if not self.filepath:
            self.report({"ERROR"}, "Choose a .gavatar file")
            return {"CANCELLED"}
        target = None
        if self.rig in {"AUTO", "ACTIVE"}:
            target = avatar_import.active_rig_of(context)
            if target is None and self.rig == "ACTIVE":
                self.report({"ERROR"}, "No active rig: select a rig's armature or mesh, or choose New Rig")
                return {"CANCELLED"}
        try:
            result = avatar_import.import_avatar(
                context,
                bpy.path.abspath(self.filepath),
                rig=target,
                model_path=self.model_path,
                models=model_files(context),
            )
        except _IMPORT_ERRORS as error:
            name = display_name(self.filepath)
            where = "" if name in str(error) else f" '{name}'"  # the reader's messages name the file
            self.report({"ERROR"}, as_sentence(f"Cannot import the avatar{where}: {error}"))
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot read '{self.filepath}': {error.strerror or error}")
            return {"CANCELLED"}
        for note in result.notes:
            self.report({"WARNING"}, note)
        count = len(result.splats.data.vertices)  # type: ignore[union-attr]
        self.report({"INFO"}, f"Imported {count} Gaussians on {result.rig.armature.name}")
        return {"FINISHED"}


class GAVATAR_OT_export_avatar(Operator):
    """Export the active bound splat object as a Gaussian avatar (.gavatar)"""

    bl_idname = "gavatar.export_avatar"
    bl_label = "Export Gaussian Avatar"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.gavatar", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        if not self.filepath:
            self.filepath = default_export_path(".gavatar")
        return open_file_browser(self, context)

    def execute(self, context: Context) -> OperatorResult:
        obj = context.active_object
        if obj is None or not splat_data.is_splat_object(obj):
            self.report({"ERROR"}, "Make a bound splat object (an imported avatar) the active object")
            return {"CANCELLED"}
        if not self.filepath:
            self.report({"ERROR"}, "Choose where to write the avatar")
            return {"CANCELLED"}
        try:
            count = avatar_import.export_avatar(obj, bpy.path.abspath(self.filepath))
        except (*_IMPORT_ERRORS, DriverMeshError) as error:
            self.report({"ERROR"}, f"Cannot export the avatar: {error}")
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot write '{self.filepath}': {error.strerror or error}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported {count} Gaussians to '{self.filepath}'")
        return {"FINISHED"}


class GAVATAR_OT_delete_avatar(Operator):
    """Delete the whole avatar of the active object: splat objects, driver mesh, joint mesh, armature
    and its collection (also what is left of an avatar that lost a part)"""

    bl_idname = "gavatar.delete_avatar"
    bl_label = "Delete Avatar"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: Context) -> bool:
        return avatar_parts.gather(context.active_object) is not None

    def execute(self, context: Context) -> OperatorResult:
        parts = avatar_parts.gather(context.active_object)
        if parts is None:
            self.report({"ERROR"}, "The active object is not part of an avatar.")
            return {"CANCELLED"}
        name = parts.name
        count = avatar_parts.delete(parts)
        self.report({"INFO"}, f"Deleted avatar '{name}' ({count} objects)")
        return {"FINISHED"}


register, unregister = class_registrar(
    (GAVATAR_OT_import_avatar, GAVATAR_OT_export_avatar, GAVATAR_OT_delete_avatar)
)
