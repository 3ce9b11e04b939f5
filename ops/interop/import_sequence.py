"""``gavatar.import_sequence``: a baked 4D Gaussian sequence (.gavatar4d) as a splat object that
plays on the timeline (blender/interop/sequence_import.py)."""

from __future__ import annotations

from bpy.props import BoolProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ...blender.interop.sequence_import import import_sequence
from ...core.avatar.sequence_file import SUFFIX, SequenceFileError
from ...engine.registrar import OperatorResult, class_registrar
from ...engine.splats.data import SplatDataError


class GAVATAR_OT_import_sequence(Operator):
    """Import a 4D Gaussian sequence (.gavatar4d) that follows the scene frame"""

    bl_idname = "gavatar.import_sequence"
    bl_label = "Import Gaussian Sequence"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default=f"*{SUFFIX}", options={"HIDDEN"})  # type: ignore[valid-type]
    start: IntProperty(  # type: ignore[valid-type]
        name="Start Frame", description="Scene frame of the sequence's first frame (-1: the scene's start)",
        default=-1,
    )  # fmt: skip
    set_frame_range: BoolProperty(  # type: ignore[valid-type]
        name="Extend Frame Range", description="Make the scene's frame range hold the whole sequence",
        default=True,
    )  # fmt: skip
    relative_path: BoolProperty(  # type: ignore[valid-type]
        name="Relative Path",
        description="Store the file's path relative to the .blend (when saved)",
        default=True,
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        assert context.window_manager is not None
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Context) -> OperatorResult:
        if not self.filepath:
            self.report({"ERROR"}, "Choose a .gavatar4d file")
            return {"CANCELLED"}
        try:
            obj = import_sequence(
                context, self.filepath, start=None if self.start < 0 else self.start,
                set_frame_range=self.set_frame_range, relative_path=self.relative_path,
            )  # fmt: skip
        except (SequenceFileError, SplatDataError) as error:
            self.report({"ERROR"}, f"Cannot import the sequence: {error}")
            return {"CANCELLED"}
        except OSError as error:
            self.report({"ERROR"}, f"Cannot read '{self.filepath}': {error.strerror or error}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Imported '{obj.name}' ({len(obj.data.vertices)} Gaussians)")  # type: ignore[union-attr]
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_import_sequence,))
