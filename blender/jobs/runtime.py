"""The live side of training in Blender: the session's job manager, the timer that drains it into
the scene's training records, the status-bar progress, preview and plot images, and stopping every
trainer when Blender quits or the add-on is disabled.

The job logic is bpy-free (core/jobs); this module only mirrors it. ``drain()`` is the
timer's whole work, public so that scripts and tests (background Blender runs no timers) can call it.
"""

from __future__ import annotations

import atexit
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy
import bpy.utils.previews as bpy_previews
import numpy as np
from bpy.types import Context, Image, Scene

from ...core.jobs import plot
from ...core.jobs.job import ACTIVE_STATES, FINISHED, TrainingJob, history_from_rows, metric_summary
from ...core.jobs.manager import JobManager
from ...engine import hooks as handlers
from ...engine.registrar import EXTENSION_PACKAGE

TIMER_INTERVAL = 0.25  # seconds between drains while trainings run
QUIT_GRACE = 15.0  # seconds trainers get to checkpoint when Blender quits or the add-on is disabled
PLOT_SIZE = (200, 100)
ICON_SIZE = 160  # longest side of the preview thumbnail in the panel
LOG_TAIL_LINES = 15

# Module-level by necessity: the trainer processes belong to this Blender session, not to a .blend.
MANAGER = JobManager()
_previews: Any = None  # bpy.utils.previews collection of the panel's thumbnails
_last_tick_seconds: list[float] = []  # recent drain() costs, for the benchmark and the panel
_announced: set[str] = set()  # jobs whose end was printed while no record was open


def extension_root() -> Path:
    """The installed extension's folder (put on the trainer's PYTHONPATH)."""
    module = sys.modules[EXTENSION_PACKAGE]
    return Path(str(module.__file__)).resolve().parent if module.__file__ else Path(__file__).parents[2]


# ---------------------------------------------------------------------------------------- records
def training_state(scene: Scene) -> Any:
    return scene.gavatar_training  # type: ignore[attr-defined]


def iter_records() -> Iterator[tuple[Scene, Any]]:
    for scene in bpy.data.scenes:
        for record in training_state(scene).jobs:
            yield scene, record


def find_record(job_id: str) -> tuple[Scene, Any] | tuple[None, None]:
    for scene, record in iter_records():
        if record.job_id == job_id:
            return scene, record
    return None, None


def record_history(record: Any) -> list[tuple[int, float, float]]:
    try:
        rows = json.loads(record.history_json or "[]")
    except ValueError:
        return []
    return history_from_rows(rows)


def _number(value: float | None, default: float = math.nan) -> float:
    return default if value is None else float(value)


def sync_record(record: Any, job: TrainingJob, changes: set[str]) -> None:
    """Copies what changed in job into its record (and the images)."""
    p = job.progress
    record.state = job.state
    record.progress = min(1.0, max(0.0, p.fraction))
    record.iteration, record.iterations = p.iteration, p.iterations
    record.loss, record.psnr = _number(p.loss), _number(p.psnr)
    record.eta = _number(p.eta, -1.0)
    record.its_per_s = _number(p.its_per_s, 0.0)
    record.gaussians = p.gaussians
    if job.resolution is not None:
        record.train_resolution = f"{job.resolution[0]}x{job.resolution[1]}"
    if job.first_progress_latency is not None and record.first_progress_seconds < 0:
        record.first_progress_seconds = job.first_progress_latency
    if "progress" in changes:
        record.history_json = json.dumps([[h[0], _json_float(h[1]), _json_float(h[2])] for h in job.history])
        update_plot(record, job.history)
    if "preview" in changes and job.preview_path:
        update_preview(record, job.preview_path)
    if job.checkpoint_path and not job.checkpoint_path.startswith("("):
        record.checkpoint_path = job.checkpoint_path
        record.checkpoint_iteration = job.checkpoint_iteration
    if "result" in changes:
        record.avatar_path = job.avatar_path
        record.metrics_json = json.dumps(job.metrics)
    if job.state == "CANCELLING":
        record.message = "Stopping: writing a checkpoint"
    elif job.state in ("STARTING", "RUNNING") and not job.outcome:
        # What the trainer does before or between its steps ("compiling CUDA kernels (once)")
        record.message = f"{job.stage[:1].upper()}{job.stage[1:]}..." if job.stage else ""
    if job.outcome is not None:
        record.message, record.hint, record.error_kind = (
            job.outcome.message,
            job.outcome.hint,
            job.outcome.kind,
        )
        record.exit_code = job.exit_code if job.exit_code is not None else -1000
        tail = list(job.stderr_tail[-LOG_TAIL_LINES:]) + list(job.stray_output)[-5:]
        record.stderr_tail = "\n".join(tail) if job.state == "FAILED" else ""


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------- images
def previews() -> Any:
    global _previews
    if _previews is None:
        _previews = bpy_previews.new()
    return _previews


def icon_id(key: str) -> int:
    """Icon of a thumbnail for template_icon (0 when there is none)."""
    pcoll = previews()
    return pcoll[key].icon_id if key in pcoll else 0


def _set_thumbnail(key: str, rgba_top_down: np.ndarray) -> None:
    """Shows pixels (H, W, 4, row 0 at the top) as a panel thumbnail."""
    pcoll = previews()
    thumb: Any = pcoll[key] if key in pcoll else pcoll.new(key)
    height, width = rgba_top_down.shape[:2]
    thumb.image_size = (width, height)
    thumb.image_pixels_float.foreach_set(np.ascontiguousarray(rgba_top_down[::-1], dtype=np.float32).ravel())


def _image(name: str, width: int, height: int, existing: Image | None) -> Image:
    if existing is not None and tuple(existing.size) == (width, height) and existing.source == "GENERATED":
        return existing
    image = bpy.data.images.new(name, width, height, alpha=True)
    return image


def update_plot(record: Any, history: list[tuple[int, float, float]]) -> None:
    pixels, _ = plot.render_plot(history, *PLOT_SIZE)
    width, height = PLOT_SIZE
    image = _image(f"Training Plot: {record.name}", width, height, record.plot_image)
    store: Any = image.pixels  # the stubs type it as a float
    store.foreach_set(np.ascontiguousarray(pixels[::-1]).ravel())  # Blender rows go up
    image.update()
    record.plot_image = image
    _set_thumbnail(f"plot:{record.job_id}", pixels)


def update_preview(record: Any, path: str) -> None:
    """Loads the trainer's latest preview PNG (ground truth | render) into the record's Image."""
    if not Path(path).is_file():
        return
    image = record.preview_image
    try:
        if image is None:
            image = bpy.data.images.load(path, check_existing=False)
            image.name = f"Training Preview: {record.name}"
            record.preview_image = image
        else:
            image.filepath = path
            image.reload()
        width, height = image.size
        if width and height:
            pixels = np.empty(width * height * 4, dtype=np.float32)
            source: Any = image.pixels
            source.foreach_get(pixels)
            top_down = pixels.reshape(height, width, 4)[::-1]
            step = max(1, math.ceil(max(width, height) / ICON_SIZE))
            _set_thumbnail(f"preview:{record.job_id}", top_down[::step, ::step])
    except RuntimeError as exc:  # a PNG caught half-written, or unreadable: the next one will do
        print(f"Gaussian Avatar: cannot load the training preview '{path}': {exc}")


def restore_images(record: Any) -> None:
    """After a .blend is opened: the plot from the stored history, the preview thumbnail."""
    history = record_history(record)
    if history:
        update_plot(record, history)
    if record.preview_image is not None and record.preview_image.filepath:
        update_preview(record, bpy.path.abspath(record.preview_image.filepath))


# ---------------------------------------------------------------------------------------- timer
def submit(scene: Scene, record: Any, job: TrainingJob) -> TrainingJob:
    MANAGER.max_parallel = training_state(scene).max_parallel
    MANAGER.submit(job)
    ensure_timer()
    return job


def ensure_timer() -> None:
    if not bpy.app.timers.is_registered(_timer):
        handlers.add_timer(_timer, first_interval=0.0)


def _timer() -> float | None:
    drain()
    return TIMER_INTERVAL if MANAGER.busy else None


def drain(echo: bool = False) -> list[TrainingJob]:
    """One tick: start queued trainings, read every trainer's output into its record, import
    finished avatars. echo prints progress lines to the console (wait=True, scripts)."""
    started = time.perf_counter()
    changed = MANAGER.tick()
    for job in changed:
        changes = job.take_changes()
        scene, record = find_record(job.job_id)
        if echo and job.echo_due(changes):
            print(f"Gaussian Avatar: {job.name}: {job.status_line()}", flush=True)
        if record is None:
            _announce_orphan(job)
            continue
        sync_record(record, job, changes)
        if not job.active:
            assert scene is not None
            _deliver(scene, record, job)
    if changed:
        tag_redraw()
    _last_tick_seconds.append(time.perf_counter() - started)
    del _last_tick_seconds[:-100]
    return changed


def last_tick_seconds() -> list[float]:
    return list(_last_tick_seconds)


def _announce_orphan(job: TrainingJob) -> None:
    """A job whose record is not in the open file (another .blend was loaded): say how it ended
    once; it stays in the manager, so reopening its file picks the result up."""
    if job.active or job.job_id in _announced:
        return
    _announced.add(job.job_id)
    text = job.outcome.text() if job.outcome else job.state
    print(f"Gaussian Avatar: training '{job.name}' ended ({text}); output in '{job.output_dir}'")


def _deliver(scene: Scene, record: Any, job: TrainingJob) -> None:
    """A job ended: import the avatar (when it finished), tell the user, let the manager forget it."""
    MANAGER.forget(job.job_id)
    if job.state == FINISHED:
        summary = metric_summary(job.metrics)
        record.message = f"Finished: {summary}" if summary else "Finished"
        if record.import_result:
            from .result import ResultImportError, import_trained_avatar

            try:
                obj, notes = import_trained_avatar(scene, record)
            except ResultImportError as exc:
                record.message = f"Trained, but the import failed: {exc}"
                record.hint = f"the avatar file is kept: {record.avatar_path}"
                notify({"WARNING"}, f"Training '{record.name}': {record.message}")
                return
            record.result_object = obj
            for note in notes:
                print(f"Gaussian Avatar: {note}")
        notify({"INFO"}, f"Training '{record.name}' finished: {summary or record.avatar_path}")
    elif job.state == "STOPPED":
        notify({"INFO"}, f"Training '{record.name}': {record.message}")
    else:
        notify({"ERROR"}, f"Training '{record.name}' failed: {record.message}" + _hint(record.hint))


def _hint(hint: str) -> str:
    return f" ({hint})" if hint else ""


def notify(level: set[str], text: str) -> None:
    """A report in the Info log and status bar where a window exists; always on the console."""
    print(f"Gaussian Avatar: {text}", flush=True)
    wm = bpy.context.window_manager
    windows = list(wm.windows) if wm is not None else []
    if not windows:
        return
    try:
        with bpy.context.temp_override(window=windows[0]):
            bpy.ops.gavatar.train_notify(level=next(iter(level)), message=text)  # type: ignore[attr-defined]
    except (RuntimeError, AttributeError, TypeError):
        pass  # no report area: the console line is enough


def tag_redraw() -> None:
    wm = bpy.context.window_manager
    if wm is None:
        return
    for window in wm.windows:
        screen = window.screen
        if screen is None:
            continue
        for area in screen.areas:
            if area.type in {"VIEW_3D", "STATUSBAR", "PROPERTIES", "IMAGE_EDITOR"}:
                area.tag_redraw()


def wait_for(job: TrainingJob, poll: float = 0.1, timeout: float | None = None) -> bool:
    """Drains until job ended (scripts and background Blender); False on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        drain(echo=True)  # the drain that sees the exit also imports the result
        if not job.active:
            return True
        if deadline is not None and time.monotonic() > deadline:
            return False
        time.sleep(poll)


# ---------------------------------------------------------------------------------------- status bar
def active_record(context: Context) -> Any:
    """The training the status bar shows: the selected one when it runs, else the first running."""
    scene = context.scene
    if scene is None:
        return None
    state = training_state(scene)
    jobs = state.jobs
    if 0 <= state.active_index < len(jobs) and jobs[state.active_index].state in ACTIVE_STATES:
        return jobs[state.active_index]
    return next((r for r in jobs if r.state in ACTIVE_STATES), None)


def draw_status(self: Any, context: Context) -> None:
    record = active_record(context)
    if record is None:
        return
    running = sum(1 for _, r in iter_records() if r.state in ACTIVE_STATES)
    label = f"{record.name}: {record.progress * 100:.0f}%"
    if record.state in ("STARTING", "RUNNING") and record.message:  # e.g. "Compiling CUDA kernels (once)..."
        label = f"{record.name}: {record.message}"
    if running > 1:
        label += f" (+{running - 1})"
    row = self.layout.row(align=True)
    row.progress(factor=record.progress, type="BAR", text=label)
    op = row.operator("gavatar.train_cancel", text="", icon="X", emboss=False)
    op.job_id = record.job_id


# ---------------------------------------------------------------------------------------- lifecycle
def reconnect_records(restore: bool = True) -> None:
    """Records whose process is not in this session become INTERRUPTED; live ones reconnect."""
    for scene, record in list(iter_records()):
        job = MANAGER.get(record.job_id)
        if record.state in ACTIVE_STATES and job is None:
            record.state = "INTERRUPTED"
            has_checkpoint = bool(record.output_dir) and (Path(record.output_dir) / "checkpoint.pt").is_file()
            record.message = "Blender closed while this training ran" + (
                "; Resume continues from the checkpoint" if has_checkpoint else ""
            )
        elif job is not None:
            job.take_changes()
            sync_record(record, job, {"progress", "preview", "result"})
            if not job.active:  # it ended while its file was closed: import the result now
                _deliver(scene, record, job)
        if restore:
            restore_images(record)
    if len(MANAGER):
        _announced.clear()
        ensure_timer()


@bpy.app.handlers.persistent
def _on_load_post(*_args: Any) -> None:
    reconnect_records()


def _after_register() -> None:
    reconnect_records(restore=False)  # the add-on was (re-)enabled: its old trainers are gone


def stop_all(grace: float = QUIT_GRACE) -> None:
    """SIGTERM every trainer, wait for their checkpoints, kill what is left."""
    stopped = MANAGER.stop_all(grace)
    for job in stopped:
        text = job.outcome.text() if job.outcome else job.state
        print(f"Gaussian Avatar: stopped training '{job.name}' ({text}); output in '{job.output_dir}'")


def _at_exit() -> None:
    if MANAGER.busy:
        stop_all()


def register() -> None:
    handlers.add_app_handler("load_post", _on_load_post)
    handlers.add_timer(_after_register)  # bpy.data is off limits inside register()
    bpy.types.STATUSBAR_HT_header.append(draw_status)
    atexit.register(_at_exit)


def unregister() -> None:
    global _previews
    atexit.unregister(_at_exit)
    if MANAGER.busy:
        stop_all()
    bpy.types.STATUSBAR_HT_header.remove(draw_status)
    if _previews is not None:
        bpy_previews.remove(_previews)
        _previews = None
