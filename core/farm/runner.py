"""Local worker processes for a distributed render: start chunks on up to N workers, follow their
progress lines, retry a failed chunk once, report what failed and why.

Never blocks: ``tick()`` does one round (Blender calls it from a timer), ``wait()`` loops over it
for scripts. Each worker is a subprocess (core/jobs/process.py: reader threads, its
own session, a log of its stderr), started from ``command(frames)``.
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..jobs.process import LaunchError, TrainerProcess
from .commands import parse_progress
from .frames import format_frames
from .plan import is_rendered

PENDING, RUNNING, DONE, FAILED, CANCELLED = "PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED"
TAIL_LINES = 40
_ERROR_LINE = re.compile(r"(\b\w*(Error|Exception)\b|^error\b|^Gaussian Avatar farm worker:)", re.IGNORECASE)


@dataclass
class ChunkState:
    index: int
    frames: list[int]
    done: list[int] = field(default_factory=list)
    attempts: int = 0
    state: str = PENDING
    error: str = ""  # why the last attempt failed
    tail: list[str] = field(default_factory=list)  # the last attempt's stderr (and stray stdout) tail
    log_path: str = ""
    process: TrainerProcess | None = None
    _stdout_tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    @property
    def remaining(self) -> list[int]:
        done = set(self.done)
        return [f for f in self.frames if f not in done]

    @property
    def label(self) -> str:
        return format_frames(self.frames)


@dataclass
class FarmEvent:
    kind: str  # "frame", "start", "retry", "failed", "done"
    chunk: ChunkState
    frame: int | None = None
    message: str = ""


def failure_reason(lines: list[str], code: int | None) -> str:
    """The line of a worker's output that says what went wrong, with its exit status."""
    text = [line.strip() for line in lines if line.strip()]
    errors = [line for line in text if _ERROR_LINE.search(line) and not line.startswith("Traceback")]
    line = errors[-1] if errors else (text[-1] if text else "no output")
    return line if code is None else f"{line} (exit status {code})"


class FarmRun:
    def __init__(
        self,
        chunks: list[list[int]],
        command: Callable[[list[int]], list[str]],
        *,
        workers: int,
        retries: int = 1,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        frame_paths: Mapping[int, str] | None = None,
    ) -> None:
        self.chunks = [ChunkState(i, list(frames)) for i, frames in enumerate(chunks)]
        self.command = command
        self.workers = max(1, workers)
        self.retries = retries
        self.env = env
        self.cwd = cwd
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.frame_paths = dict(frame_paths or {})
        self._queue: deque[ChunkState] = deque(self.chunks)
        self.started_at = time.monotonic()
        self.ended_at: float | None = None
        self.cancelled = False

    # --------------------------------------------------------------------------------- state
    @property
    def total(self) -> int:
        return sum(len(c.frames) for c in self.chunks)

    @property
    def frames_done(self) -> int:
        return sum(len(c.done) for c in self.chunks)

    @property
    def running(self) -> list[ChunkState]:
        return [c for c in self.chunks if c.state == RUNNING]

    @property
    def finished(self) -> bool:
        return all(c.state in (DONE, FAILED, CANCELLED) for c in self.chunks)

    @property
    def failed(self) -> list[ChunkState]:
        return [c for c in self.chunks if c.state == FAILED]

    @property
    def seconds(self) -> float:
        return (self.ended_at or time.monotonic()) - self.started_at

    def status_line(self) -> str:
        parts = [f"{self.frames_done}/{self.total} frames"]
        for c in self.chunks:
            if c.state == RUNNING:
                parts.append(f"[{c.label}: {len(c.done)}/{len(c.frames)}]")
        if self.failed:
            parts.append(f"{len(self.failed)} chunk(s) failed")
        return " ".join(parts)

    def failure_report(self) -> str:
        """One sentence per failed chunk: which frames, and the worker's own words."""
        return "; ".join(
            f"frames {format_frames(c.remaining)} failed after {c.attempts} attempts: {c.error}"
            for c in self.failed
        )

    # --------------------------------------------------------------------------------- work
    def tick(self) -> list[FarmEvent]:
        events: list[FarmEvent] = []
        for chunk in self.running:
            assert chunk.process is not None
            self._read(chunk, events)
            code = chunk.process.exit_code()
            if code is not None:
                self._read(chunk, events)
                self._ended(chunk, code, events)
        while not self.cancelled and self._queue and len(self.running) < self.workers:
            self._start(self._queue.popleft(), events)
        if self.finished and self.ended_at is None:
            self.ended_at = time.monotonic()
        return events

    def wait(
        self,
        poll: float = 0.1,
        on_event: Callable[[FarmEvent], None] | None = None,
        timeout: float | None = None,
    ) -> bool:
        """Runs to the end (scripts, background Blender); False on timeout (workers keep running)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for event in self.tick():
                if on_event is not None:
                    on_event(event)
            if self.finished:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(poll)

    def cancel(self, grace: float = 5.0) -> None:
        """Stops every worker (SIGTERM, then kill after grace seconds); queued chunks never start."""
        self.cancelled = True
        for chunk in self.running:
            assert chunk.process is not None
            chunk.process.terminate()
        deadline = time.monotonic() + grace
        for chunk in self.running:
            assert chunk.process is not None
            if chunk.process.wait(max(0.0, deadline - time.monotonic())) is None:
                chunk.process.kill()
                chunk.process.wait(5.0)
            chunk.state = CANCELLED
        for chunk in self._queue:
            chunk.state = CANCELLED
        self._queue.clear()
        self.ended_at = time.monotonic()

    # --------------------------------------------------------------------------------- parts
    def _start(self, chunk: ChunkState, events: list[FarmEvent]) -> None:
        chunk.attempts += 1
        chunk._stdout_tail.clear()
        log_path = None
        if self.log_dir is not None:
            log_path = self.log_dir / f"chunk{chunk.index:03d}-{chunk.label}-try{chunk.attempts}.log"
            chunk.log_path = str(log_path)
        try:
            chunk.process = TrainerProcess(
                self.command(chunk.remaining), env=self.env, cwd=self.cwd, log_path=log_path
            )
        except LaunchError as exc:
            chunk.process = None
            self._attempt_failed(chunk, str(exc), [], events)
            return
        chunk.state = RUNNING
        events.append(FarmEvent("start", chunk, message=f"attempt {chunk.attempts}"))

    def _read(self, chunk: ChunkState, events: list[FarmEvent]) -> None:
        assert chunk.process is not None
        for line in chunk.process.drain():
            message = parse_progress(line)
            if message is None:
                chunk._stdout_tail.append(line.rstrip("\n"))
                continue
            if message.get("event") != "frame":
                continue
            frame = int(message["frame"])
            if frame in chunk.frames and frame not in chunk.done:
                chunk.done.append(frame)
                events.append(FarmEvent("frame", chunk, frame, str(message.get("file", ""))))

    def _ended(self, chunk: ChunkState, code: int, events: list[FarmEvent]) -> None:
        assert chunk.process is not None
        tail = chunk.process.stderr_tail(TAIL_LINES) + list(chunk._stdout_tail)
        chunk.process = None
        # A frame counts once its file is there, reported or not (Blender can write and die).
        for frame in chunk.remaining:
            if frame in self.frame_paths and is_rendered(self.frame_paths[frame]):
                chunk.done.append(frame)
        if code == 0 and not chunk.remaining:
            chunk.state = DONE
            chunk.error = ""
            events.append(FarmEvent("done", chunk))
            return
        if code == 0:
            reason = f"the worker ended without writing frames {format_frames(chunk.remaining)}"
            errors = failure_reason(tail, None) if tail else ""
            reason = f"{reason}: {errors}" if errors else reason
        else:
            reason = failure_reason(tail, code)
        self._attempt_failed(chunk, reason, tail, events)

    def _attempt_failed(
        self, chunk: ChunkState, reason: str, tail: list[str], events: list[FarmEvent]
    ) -> None:
        chunk.error = reason
        chunk.tail = tail
        if chunk.attempts <= self.retries and not self.cancelled:
            chunk.state = PENDING
            self._queue.append(chunk)
            events.append(FarmEvent("retry", chunk, message=reason))
        else:
            chunk.state = FAILED
            events.append(FarmEvent("failed", chunk, message=reason))
