"""One training: its command, live process, state, progress and history.

States: QUEUED -> STARTING (process launched) -> RUNNING (``start`` event) -> FINISHED / STOPPED /
FAILED, with CANCELLING between a stop request and the exit. ``pump()`` moves everything the
process printed since the last call into the job and returns the events; ``changes`` tells a
mirror (Blender's properties) what to copy.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .events import TrainerEvent, parse_line
from .outcomes import Outcome, describe_exit
from .pacing import LOG_INTERVAL_SECONDS, Throttle
from .process import LaunchError, TrainerProcess

QUEUED, STARTING, RUNNING, CANCELLING = "QUEUED", "STARTING", "RUNNING", "CANCELLING"
FINISHED, STOPPED, FAILED = "FINISHED", "STOPPED", "FAILED"
ACTIVE_STATES = frozenset({QUEUED, STARTING, RUNNING, CANCELLING})
LIVE_STATES = frozenset({STARTING, RUNNING, CANCELLING})  # a process exists
MAX_HISTORY = 1000
LOG_NAME = "trainer.log"

ProcessFactory = Callable[..., TrainerProcess]


@dataclass
class Progress:
    iteration: int = 0
    iterations: int = 0
    fraction: float = 0.0
    loss: float | None = None
    psnr: float | None = None
    gaussians: int = 0
    eta: float | None = None
    elapsed: float = 0.0
    its_per_s: float | None = None


@dataclass
class TrainingJob:
    argv: list[str]
    env: dict[str, str] | None = None
    output_dir: str = ""
    name: str = "Training"
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: str = QUEUED
    progress: Progress = field(default_factory=Progress)
    # (iteration, loss, psnr) of every progress event, thinned to MAX_HISTORY points
    history: list[tuple[int, float, float]] = field(default_factory=list)
    resumed_from: int | None = None
    device: str = ""
    backend: str = ""
    resolution: tuple[int, int] | None = None
    preview_path: str = ""
    preview_iteration: int = 0
    checkpoint_path: str = ""
    checkpoint_iteration: int = 0
    avatar_path: str = ""
    tracking_path: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    # What the trainer is doing besides training steps ("compiling CUDA kernels (once)"); '' when training
    stage: str = ""
    echo_throttle: Throttle = field(default_factory=lambda: Throttle(LOG_INTERVAL_SECONDS))
    last_eval: dict[str, Any] = field(default_factory=dict)
    error_event: TrainerEvent | None = None
    stopped_event: TrainerEvent | None = None
    done: bool = False
    exit_code: int | None = None
    outcome: Outcome | None = None
    cancel_requested: bool = False
    process: TrainerProcess | None = None
    launched_at: float | None = None
    first_progress_at: float | None = None
    ended_at: float | None = None
    stray_output: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    changes: set[str] = field(default_factory=set)
    stderr_tail: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------------------------- queries
    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def log_path(self) -> Path | None:
        return Path(self.output_dir) / LOG_NAME if self.output_dir else None

    @property
    def first_progress_latency(self) -> float | None:
        """Seconds from launch to the first progress event."""
        if self.launched_at is None or self.first_progress_at is None:
            return None
        return self.first_progress_at - self.launched_at

    def existing_checkpoint(self) -> str:
        """A checkpoint on disk for this run ('' when there is none)."""
        for candidate in (self.checkpoint_path, str(Path(self.output_dir) / "checkpoint.pt")):
            if candidate and not candidate.startswith("(") and Path(candidate).is_file():
                return candidate
        return ""

    # ---------------------------------------------------------------------------------- control
    def launch(self, factory: ProcessFactory = TrainerProcess) -> None:
        """Starts the process; on failure the job is FAILED with the reason (no exception)."""
        self.launched_at = time.monotonic()
        self.first_progress_at = None
        self.done, self.error_event, self.stopped_event = False, None, None
        self.exit_code, self.outcome, self.cancel_requested = None, None, False
        try:
            self.process = factory(self.argv, self.env, self.output_dir or None, self.log_path)
        except LaunchError as exc:
            hint = "set Trainer Python in the add-on preferences, or run Set up Trainer"
            self._end(Outcome("FAILED", "trainer_python", f"Cannot start the trainer: {exc}", hint))
            return
        self._set_state(STARTING)

    def request_cancel(self) -> None:
        """Queued: leaves the queue. Running: SIGTERM (checkpoint kept). Cancelling: kill."""
        if self.state == QUEUED:
            self._end(Outcome("STOPPED", "stopped", "Removed from the queue before it started"))
        elif self.state in (STARTING, RUNNING):
            self.cancel_requested = True
            assert self.process is not None
            self.process.terminate()
            self._set_state(CANCELLING)
        elif self.state == CANCELLING and self.process is not None:
            self.process.kill()

    def pump(self) -> list[TrainerEvent]:
        """Applies what the process printed since the last call; finishes the job on exit."""
        if self.process is None or not self.live:
            return []
        events = []
        for line in self.process.drain():
            event = parse_line(line)
            if event is None:
                if line.strip():
                    self.stray_output.append(line.rstrip("\n"))
                continue
            self.apply(event)
            events.append(event)
        code = self.process.exit_code()
        if code is not None:
            self._finish(code)
        return events

    # ---------------------------------------------------------------------------------- events
    def apply(self, event: TrainerEvent) -> None:
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event)

    def _on_start(self, e: TrainerEvent) -> None:
        self.resumed_from = e.get("resumed_from")
        if self.resumed_from is not None:  # the steps after the checkpoint are trained again
            self.history = [h for h in self.history if h[0] <= int(self.resumed_from)]
        self.device, self.backend = str(e.get("device", "")), str(e.get("backend", ""))
        res = e.get("resolution")
        self.resolution = (int(res[0]), int(res[1])) if isinstance(res, list) and len(res) == 2 else None
        p = self.progress
        p.iterations = int(e.get("iterations") or p.iterations)
        p.gaussians = int(e.get("gaussians") or p.gaussians)
        p.iteration = int(self.resumed_from or 0)
        if self.state in (QUEUED, STARTING):
            self._set_state(RUNNING)
        self.changes.add("progress")

    def _on_stage(self, e: TrainerEvent) -> None:
        self.stage = str(e.get("text") or "")
        self.changes.add("progress")

    def _on_progress(self, e: TrainerEvent) -> None:
        self.stage = ""  # training steps run again
        p = self.progress
        p.iteration = int(e.get("iteration") or 0)
        p.iterations = int(e.get("iterations") or p.iterations)
        fraction = e.number("progress")
        p.fraction = fraction if fraction is not None else p.iteration / max(1, p.iterations)
        p.loss, p.psnr = e.number("loss"), e.number("psnr")
        p.gaussians = int(e.get("gaussians") or p.gaussians)
        p.eta, p.its_per_s = e.number("eta"), e.number("its_per_s")
        p.elapsed = e.number("elapsed") or p.elapsed
        if self.first_progress_at is None:
            self.first_progress_at = time.monotonic()
        if self.state == STARTING:
            self._set_state(RUNNING)
        self._record_history(p.iteration, p.loss, p.psnr)
        self.changes.add("progress")

    def _on_preview(self, e: TrainerEvent) -> None:
        self.preview_path = str(e.get("path", ""))
        self.preview_iteration = int(e.get("iteration") or 0)
        self.changes.add("preview")

    def _on_checkpoint(self, e: TrainerEvent) -> None:
        self.checkpoint_path = str(e.get("path", ""))
        self.checkpoint_iteration = int(e.get("iteration") or 0)
        self.changes.add("checkpoint")

    def _on_eval(self, e: TrainerEvent) -> None:
        self.last_eval = dict(e.data)
        self.changes.add("eval")

    def _on_done(self, e: TrainerEvent) -> None:
        self.done = True
        self.stage = ""
        # A rigged fit names its avatar; a 4D fit (--rig none) its baked sequence (.gavatar4d).
        self.avatar_path = str(e.get("avatar") or e.get("sequence") or "")
        self.tracking_path = str(e.get("tracking", ""))
        if e.get("checkpoint"):
            self.checkpoint_path = str(e.get("checkpoint"))
        metrics = e.get("metrics")
        self.metrics = dict(metrics) if isinstance(metrics, dict) else {}
        self.changes.add("result")

    def _on_stopped(self, e: TrainerEvent) -> None:
        self.stopped_event = e
        saved = str(e.get("checkpoint", ""))
        if saved and not saved.startswith("("):
            self.checkpoint_path = saved
            self.checkpoint_iteration = self.progress.iteration
        self.changes.add("checkpoint")

    def _on_error(self, e: TrainerEvent) -> None:
        # Several processes: the rank that failed first says why; the others then only report
        # that they lost it (kind "distributed"), which must not hide the cause.
        if self.error_event is None or self.error_event.get("kind") == "distributed":
            self.error_event = e

    def _record_history(self, iteration: int, loss: float | None, psnr: float | None) -> None:
        self.history.append((iteration, _nan(loss), _nan(psnr)))
        if len(self.history) > MAX_HISTORY:  # thin evenly, keeping the newest point
            self.history = self.history[-1::-2][::-1]

    # ---------------------------------------------------------------------------------- endings
    def _finish(self, code: int) -> None:
        assert self.process is not None
        # Under torchrun the process is the launcher, which exits 1 whenever a trainer process
        # failed or stopped: the trainer's own code is in its last word on stdout.
        said = self.stopped_event or self.error_event
        own = said.get("exit_code") if said is not None else None
        if code > 0 and isinstance(own, int) and own > 0:
            code = own
        self.exit_code = code
        self.stderr_tail = self.process.stderr_tail()
        outcome = describe_exit(
            code,
            error=self.error_event,
            done=self.done,
            stopped=self.stopped_event,
            cancel_requested=self.cancel_requested,
            stderr_tail=self.stderr_tail + list(self.stray_output),
            checkpoint=self.existing_checkpoint(),
        )
        self._end(outcome)

    def _end(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.ended_at = time.monotonic()
        if outcome.state == "FINISHED":
            self.progress.fraction = 1.0
        self._set_state(outcome.state)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.changes.add("state")

    def take_changes(self) -> set[str]:
        out, self.changes = self.changes, set()
        return out

    # ---------------------------------------------------------------------------------- text
    def status_line(self) -> str:
        """'it 120/600 (20%) loss 0.0312 ETA 1:03' for consoles and status bars, or what the
        trainer does before its first step ('compiling CUDA kernels (once)')."""
        p = self.progress
        if self.stage:
            return f"{self.stage}..."
        parts = [f"it {p.iteration}/{p.iterations or '?'} ({100 * p.fraction:.0f}%)"]
        if p.loss is not None:
            parts.append(f"loss {p.loss:.4f}")
        if p.eta is not None:
            parts.append(f"ETA {format_duration(p.eta)}")
        return " ".join(parts)

    def echo_due(self, changes: set[str]) -> bool:
        """Whether a console echo of the progress is due now: at most one line every few seconds,
        and always when the stage changes or the job ends."""
        if "state" in changes or ("progress" in changes and self.stage):
            return self.echo_throttle.ready(force=True)
        return "progress" in changes and self.echo_throttle.ready()


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def history_from_rows(rows: Sequence[Sequence[float]]) -> list[tuple[int, float, float]]:
    return [(int(r[0]), _nan(r[1]), _nan(r[2])) for r in rows if len(r) >= 3]


def metric_summary(metrics: Mapping[str, Any]) -> str:
    """'val PSNR 28.31 dB, SSIM 0.912; test PSNR 26.02 dB; held-out views at 512x512 (the dataset's
    resolution); 81,234 Gaussians; trained 9:58'. The held-out figures name the resolution they
    were scored at: a run trained at 32 px scores far better there than at the dataset's size."""
    parts = []
    for split in ("val", "test"):
        psnr, ssim = metrics.get(f"{split}_psnr"), metrics.get(f"{split}_ssim")
        if isinstance(psnr, int | float):
            text = f"{split} PSNR {psnr:.2f} dB"
            if isinstance(ssim, int | float):
                text += f", SSIM {ssim:.3f}"
            parts.append(text)
    where = _resolution_text(metrics.get("eval_resolution"))
    if parts and where:
        parts.append(f"held-out views at {where} (the dataset's resolution)")
    if isinstance(metrics.get("gaussians"), int | float):
        parts.append(f"{int(metrics['gaussians']):,} Gaussians")
    if isinstance(metrics.get("train_time"), int | float):
        parts.append(f"trained {format_duration(float(metrics['train_time']))}")
    return "; ".join(parts)


def _resolution_text(value: Any) -> str:
    """'512x512' from [512, 512] ('' when it is not a pair of numbers)."""
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return f"{int(value[0])}x{int(value[1])}"
    return ""


_HANDLERS: dict[str, Callable[[TrainingJob, TrainerEvent], None]] = {
    "start": TrainingJob._on_start,
    "stage": TrainingJob._on_stage,
    "progress": TrainingJob._on_progress,
    "preview": TrainingJob._on_preview,
    "checkpoint": TrainingJob._on_checkpoint,
    "eval": TrainingJob._on_eval,
    "done": TrainingJob._on_done,
    "stopped": TrainingJob._on_stopped,
    "error": TrainingJob._on_error,
}
