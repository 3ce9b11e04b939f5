"""``gavatar.render_sequence``: render a frame range through Blender's output settings from a script,
reporting progress (frame k of n); ``gavatar.use_standard_view``: the view transform the avatar's
colours need."""

from __future__ import annotations

import sys

from bpy.props import EnumProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ..blender.animate.errors import AnimateError
from ..blender.animate.render_sequence import SequenceRequest, render_frames, unsaved_relative_path
from ..engine import view_transform
from ..engine.registrar import OperatorResult, class_registrar

FORMAT_ITEMS = [
    ("SCENE", "Scene Output", "The scene's output format and settings"),
    ("PNG", "PNG Sequence", "One PNG file per frame"),
    ("OPEN_EXR_MULTILAYER", "EXR with Depth", "Multilayer OpenEXR (32-bit float) with the depth pass"),
    ("FFMPEG", "Video (FFmpeg)", "One H.264 MPEG-4 video file"),
]
ENGINE_ITEMS = [
    ("SCENE", "Scene Engine", "The scene's render engine"),
    ("GAVATAR", "Gaussian Avatar", "The Gaussian Avatar engine"),
]


class GAVATAR_OT_render_sequence(Operator):
    """Render a frame range through Blender's output settings (like Ctrl+F12), reporting progress;
    from the UI, a dialog asks for the output and the range first"""

    bl_idname = "gavatar.render_sequence"
    bl_label = "Render Sequence"
    bl_options = {"REGISTER"}

    frame_start: IntProperty(name="Start", description="First frame (default: the scene's)", default=1)  # type: ignore[valid-type]
    frame_end: IntProperty(name="End", description="Last frame (default: the scene's)", default=250)  # type: ignore[valid-type]
    frame_step: IntProperty(name="Step", description="Render every n-th frame", default=1, min=1)  # type: ignore[valid-type]
    filepath: StringProperty(  # type: ignore[valid-type]
        name="Output",
        description="Output folder and file name prefix, '#' for the frame number (default: the scene's)",
        subtype="FILE_PATH",
        options={"PATH_SUPPORTS_BLEND_RELATIVE"},
    )
    file_format: EnumProperty(name="Format", items=FORMAT_ITEMS, default="SCENE")  # type: ignore[valid-type]
    engine: EnumProperty(name="Engine", items=ENGINE_ITEMS, default="SCENE")  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        """The dialog: output and range, filled from the scene's settings."""
        scene = context.scene
        assert scene is not None and context.window_manager is not None
        set_ = self.properties.is_property_set
        if not set_("frame_start"):
            self.frame_start = scene.frame_start
        if not set_("frame_end"):
            self.frame_end = scene.frame_end
        if not set_("frame_step"):
            self.frame_step = scene.frame_step
        if not set_("filepath"):
            self.filepath = scene.render.filepath
        return context.window_manager.invoke_props_dialog(self, width=460, confirm_text="Render")

    def draw(self, _context: Context) -> None:
        layout = self.layout
        layout.prop(self, "filepath")
        refusal = unsaved_relative_path(self.filepath)
        if refusal:
            layout.label(text="'//' is relative to the .blend, which is not saved yet", icon="ERROR")
        row = layout.row(align=True)
        row.prop(self, "frame_start")
        row.prop(self, "frame_end")
        row.prop(self, "frame_step")
        layout.prop(self, "file_format")
        layout.prop(self, "engine")
        count = len(range(self.frame_start, self.frame_end + 1, max(self.frame_step, 1)))
        layout.label(text=f"{count} frames; Blender is busy until they are written (Esc stops)", icon="INFO")

    def execute(self, context: Context) -> OperatorResult:
        scene = context.scene
        set_ = self.properties.is_property_set
        request = SequenceRequest(
            frame_start=self.frame_start if set_("frame_start") else scene.frame_start,
            frame_end=self.frame_end if set_("frame_end") else scene.frame_end,
            frame_step=self.frame_step if set_("frame_step") else scene.frame_step,
            filepath=self.filepath,
            file_format=self.file_format,
            engine="" if self.engine == "SCENE" else self.engine,
        )
        wm = context.window_manager
        total = len(range(request.frame_start, request.frame_end + 1, request.frame_step))

        def progress(k: int, n: int, frame: int) -> None:
            message = f"Rendered frame {frame} ({k} of {n})"
            self.report({"INFO"}, message)
            print(f"Gaussian Avatar: {message}", file=sys.stderr, flush=True)
            if wm is not None:
                wm.progress_update(k)

        if wm is not None:
            wm.progress_begin(0, total)
        try:
            result = render_frames(context, request, progress)
        except (AnimateError, RuntimeError) as exc:
            self.report({"ERROR"}, f"Render failed: {exc}")
            return {"CANCELLED"}
        finally:
            if wm is not None:
                wm.progress_end()
        if result.cancelled:
            self.report({"WARNING"}, f"Render cancelled after {len(result.frames)} of {total} frames")
            return {"CANCELLED"}
        if len(result.frames) < total:
            self.report(
                {"ERROR"}, f"Only {len(result.frames)} of {total} frames were written (see the console)"
            )
            return {"CANCELLED"}
        where = result.files[0] if len(result.files) == 1 else f"{result.files[0]} .. {result.files[-1]}"
        self.report(
            {"INFO"},
            f"Rendered {len(result.frames)} frames in {result.seconds:.1f} s "
            f"({result.seconds_per_frame:.2f} s a frame): {where}",
        )
        return {"FINISHED"}


class GAVATAR_OT_use_standard_view(Operator):
    """Show the avatar's colours as they are: the Standard view transform, no look (AgX and Filmic
    tone-map the avatar's display-value colours: whites turn grey, colours wash out)"""

    bl_idname = "gavatar.use_standard_view"
    bl_label = "Use Standard View"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: Context) -> OperatorResult:
        scene = context.scene
        assert scene is not None
        view_transform.use_standard(scene)
        self.report({"INFO"}, f"'{scene.name}' shows display values: view transform Standard, no look")
        return {"FINISHED"}


register, unregister = class_registrar((GAVATAR_OT_render_sequence, GAVATAR_OT_use_standard_view))
