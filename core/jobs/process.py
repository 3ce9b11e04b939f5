"""One trainer subprocess that never blocks its parent.

Two daemon threads read the child's stdout and stderr: stdout lines go onto a queue that the
parent drains when it likes (Blender: from a timer), stderr lines into a bounded tail and, in
full, into a log file beside the run. The child gets its own session, so a Ctrl+C in Blender's
terminal does not reach it; stopping is ours to do (SIGTERM: the trainer checkpoints and exits 75).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

STDERR_TAIL_LINES = 60


class LaunchError(RuntimeError):
    """The trainer could not be started at all (missing or non-executable Python, ...)."""


class TrainerProcess:
    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._tail_lock = threading.Lock()
        self.started_at = time.monotonic()
        self.terminated_at: float | None = None
        self.killed = False
        self._log: IO[str] | None = None
        if log_path is not None:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log_path, "a", encoding="utf-8", errors="replace")
            self._log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.argv)}\n")
            self._log.flush()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                **_new_session(),
            )
        except OSError as exc:
            if self._log is not None:
                self._log.close()
            raise LaunchError(f"cannot start '{self.argv[0]}': {exc.strerror or exc}") from None
        self._readers = [
            threading.Thread(target=self._read_stdout, name="trainer-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="trainer-stderr", daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    # ------------------------------------------------------------------------------ reader threads
    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.proc.stdout.close()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        try:
            for line in self.proc.stderr:
                with self._tail_lock:
                    self._stderr_tail.append(line.rstrip("\n"))
                if self._log is not None:
                    self._log.write(line)
                    self._log.flush()
        finally:
            self.proc.stderr.close()
            if self._log is not None:
                self._log.close()

    # ------------------------------------------------------------------------------ parent side
    @property
    def pid(self) -> int:
        return self.proc.pid

    def drain(self, limit: int = 10_000) -> list[str]:
        """The stdout lines that arrived since the last call (never waits)."""
        out: list[str] = []
        while len(out) < limit:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                break
        return out

    def stderr_tail(self, count: int = STDERR_TAIL_LINES) -> list[str]:
        with self._tail_lock:
            return list(self._stderr_tail)[-count:]

    def exit_code(self) -> int | None:
        """The exit code once the process has ended *and* all its output has been read."""
        code = self.proc.poll()
        if code is None or any(r.is_alive() for r in self._readers):
            return None
        return code

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        """Ask the trainer to stop: it finishes the iteration, writes a checkpoint and exits 75."""
        if self.proc.poll() is None:
            self.terminated_at = time.monotonic()
            if sys.platform == "win32":  # no SIGTERM there: CTRL_BREAK reaches the process group
                self.proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            else:
                self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.killed = True
            self.proc.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        """Waits for the process and its readers; the exit code, or None on timeout."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        deadline = None if timeout is None else time.monotonic() + max(timeout, 1.0)
        for reader in self._readers:
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return self.proc.returncode

    def stop(self, grace: float) -> int | None:
        """SIGTERM, wait up to grace seconds, then kill. Returns the exit code."""
        self.terminate()
        code = self.wait(grace)
        if code is None:
            self.kill()
            code = self.wait(5.0)
        return code


def _new_session() -> dict[str, Any]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
    return {"start_new_session": True}
