"""``gavatar.track_video``: a video (or a folder of frames, or a multi-view capture) -> a tracked
FLAME dataset, written by ``python -m training track`` in the trainer's Python, then imported as a
scene (cameras, background images, the rig keyed per frame) so the fit can be checked before
training. Blender stays usable: the tracker runs as a subprocess that a modal timer watches; Esc
(or the Cancel button) stops it, and a stopped or failed run leaves no folder behind.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator

from ..addon.preferences import get_preferences
from ..blender.jobs.runtime import extension_root
from ..core import paths
from ..core.jobs.events import TrainerEvent, parse_line
from ..core.jobs.outcomes import EXIT_INTERRUPTED
from ..core.jobs.process import LaunchError, TrainerProcess
from ..core.jobs.settings import trainer_environment
from ..core.jobs.tracking import TrackSettings, default_output, outcome_text, progress_text, track_command
from ..engine.registrar import OperatorResult, class_registrar
from . import last_defence
from .import_dataset import import_folder

POLL_SECONDS = 0.25
STOP_GRACE = 20.0  # seconds the tracker gets to clean up after SIGTERM

DEVICE_ITEMS = [
    ("AUTO", "Auto", "CUDA when the trainer's Python sees a GPU, else the CPU"),
    ("cpu", "CPU", "Track on the CPU"),
    ("cuda", "CUDA", "Track on the NVIDIA GPU"),
]


class GAVATAR_OT_track_video(Operator):
    """Track FLAME head parameters from a video, a folder of frames or a multi-view capture, and
    import the tracked dataset (cameras, images, rig) to check the fit before training"""

    bl_idname = "gavatar.track_video"
    bl_label = "Track Video"
    bl_options = {"REGISTER"}

    filepath: StringProperty(  # type: ignore[valid-type]
        name="Video", description="Video file (mp4, mov, mkv) or a folder of frames", subtype="FILE_PATH"
    )
    capture_dir: StringProperty(  # type: ignore[valid-type]
        name="Capture Folder",
        description="Multi-view capture: one sub-folder per camera (used instead of Video when set)",
        subtype="DIR_PATH",
    )
    calibration: StringProperty(  # type: ignore[valid-type]
        name="Calibration",
        description="Cameras of a capture: JSON, or COLMAP cameras.txt",
        subtype="FILE_PATH",
    )
    model_path: StringProperty(  # type: ignore[valid-type]
        name="FLAME Model", description="FLAME-format model (empty: the preference, else the free stand-in)",
        subtype="FILE_PATH",
    )  # fmt: skip
    focal: FloatProperty(  # type: ignore[valid-type]
        name="Focal Length (px)", description="Focal length in pixels of a single camera (0: estimate it)",
        default=0.0, min=0.0,
    )  # fmt: skip
    output_dir: StringProperty(  # type: ignore[valid-type]
        name="Dataset Folder", description="New folder for the tracked dataset (empty: in the cache folder)",
        subtype="DIR_PATH",
    )  # fmt: skip
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="AUTO")  # type: ignore[valid-type]
    max_frames: IntProperty(  # type: ignore[valid-type]
        name="Frame Limit", description="Track at most this many frames (0: all)", default=0, min=0
    )
    import_result: BoolProperty(  # type: ignore[valid-type]
        name="Import", description="Import the tracked dataset into the scene when done", default=True
    )
    wait: BoolProperty(  # type: ignore[valid-type]
        name="Wait", description="Block until tracking ends (scripts, background mode)", default=False,
        options={"SKIP_SAVE"},
    )  # fmt: skip

    _process: TrainerProcess | None = None
    _timer: object | None = None
    _out: str = ""
    _model: str = ""

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        assert context.window_manager is not None
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Context) -> OperatorResult:
        prefs = get_preferences(context)
        python = bpy.path.abspath(prefs.trainer_python)
        problem = paths.check_trainer_python(python)
        source = bpy.path.abspath(self.capture_dir or self.filepath)
        out = bpy.path.abspath(self.output_dir) or str(default_output(source, self._cache_dir(prefs)))
        settings = TrackSettings(
            video=source,
            out=out,
            calibration=bpy.path.abspath(self.calibration),
            model=bpy.path.abspath(self.model_path or prefs.flame_model_path),
            focal=self.focal,
            device="" if self.device == "AUTO" else self.device,
            max_frames=self.max_frames,
        )
        problems = ([problem] if problem else []) + settings.problems()
        if problems:
            self.report({"ERROR"}, problems[0])
            return {"CANCELLED"}
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        env = trainer_environment(extension_root())
        try:
            self._process = TrainerProcess(
                track_command(python, settings), env=env, log_path=Path(out).parent / f".{Path(out).name}.log"
            )
        except LaunchError as exc:
            self.report({"ERROR"}, f"Cannot start the tracker: {exc}")
            return {"CANCELLED"}
        self._out, self._model = out, settings.model
        self._done: TrainerEvent | None = None
        self._error: TrainerEvent | None = None
        if self.wait or context.window_manager is None or bpy.app.background:
            while self._pump(context) is None:
                time.sleep(POLL_SECONDS)
            return self._finish(context)
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        self._status(context, "Tracking: starting (Esc cancels)")
        return {"RUNNING_MODAL"}

    def modal(self, context: Context, event: Event) -> OperatorResult:
        process = self._process
        if event.type == "ESC" and process is not None and process.running and process.terminated_at is None:
            self._status(context, "Tracking: stopping...")
            process.terminate()  # the tracker removes its staging folder and exits 75
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if self._pump(context) is None:
            stopped_at = process.terminated_at if process is not None else None
            if process is not None and stopped_at is not None and time.monotonic() - stopped_at > STOP_GRACE:
                process.kill()  # it did not stop within the grace time
            return {"PASS_THROUGH"}
        assert context.window_manager is not None
        context.window_manager.event_timer_remove(self._timer)  # type: ignore[arg-type]
        self._status(context, None)
        return self._finish(context)

    def _pump(self, context: Context) -> int | None:
        """Reads the tracker's events; its exit code once it has ended, else None."""
        assert self._process is not None
        code = self._process.exit_code()  # once known, every line the tracker wrote is queued
        for line in self._process.drain():
            event = parse_line(line)
            if event is None:
                continue
            if event.kind == "progress":
                self._status(context, f"Tracking: {progress_text(event)} (Esc cancels)")
            elif event.kind == "done":
                self._done = event
            elif event.kind == "error":
                self._error = event
        return code

    def _finish(self, context: Context) -> OperatorResult:
        assert self._process is not None
        code = self._process.exit_code() or 0
        text = outcome_text(code, self._done, self._error, self._process.stderr_tail())
        if code != 0 or self._done is None:
            self.report({"WARNING"} if code == EXIT_INTERRUPTED else {"ERROR"}, text)
            return {"CANCELLED"}
        self.report({"INFO"}, text)
        if self.import_result:
            before = last_defence.data_names()
            try:  # modal operators are not wrapped by the last line of defence: do its work here
                result = import_folder(self, context, self._out, "GAUSSIAN_AVATARS", model_path=self._model)
            except Exception:
                traceback.print_exc()
                last_defence.remove_new_data(before)
                self.report({"ERROR"}, last_defence.unexpected_sentence("Importing the tracked dataset"))
                result = {"CANCELLED"}
            if result != {"FINISHED"}:
                self.report({"WARNING"}, f"Tracked, but the import failed; the dataset is in {self._out}")
        return {"FINISHED"}

    @staticmethod
    def _cache_dir(prefs: object) -> str:
        cache = bpy.path.abspath(getattr(prefs, "cache_dir", ""))
        return cache or str(paths.default_cache_dir())

    @staticmethod
    def _status(context: Context, text: str | None) -> None:
        if context.workspace is not None:
            context.workspace.status_text_set(text)
        if text:
            print(f"Gaussian Avatar: {text}")

    def draw(self, _context: Context) -> None:
        layout = self.layout
        for name in ("capture_dir", "calibration", "model_path", "focal", "output_dir", "device"):
            layout.prop(self, name)
        layout.prop(self, "max_frames")
        layout.prop(self, "import_result")


register, unregister = class_registrar((GAVATAR_OT_track_video,))
