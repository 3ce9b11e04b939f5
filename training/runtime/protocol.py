"""The progress protocol: one JSON object per line on stdout; human logs (and a bar) on stderr.

Every stdout line is a complete JSON object with the key ``event`` (``start``, ``progress``,
``preview``, ``checkpoint``, ``eval``, ``done``, ``error``, ...), written with a flush so a parent
process sees it at once. Nothing else is ever printed to stdout.

With several training processes (torchrun) rank 0 writes the stream; the other ranks write only
their own ``error`` events (tagged with ``rank``), so a failure on any rank reaches the parent.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from typing import Any, TextIO

LOG = logging.getLogger("training")


def _plain(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, tensors and numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _plain(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


class EventWriter:
    """Writes protocol events. ``stream`` defaults to the real stdout of the process."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.rank: int | None = None  # set when training with several processes
        self.only: set[str] | None = None  # the events this process writes (None: all)

    def for_rank(self, rank: int, size: int) -> None:
        """Several processes: rank 0 writes every event, the others only errors; errors carry
        the rank that raised them."""
        if size > 1:
            self.rank = rank
            self.only = None if rank == 0 else {"error"}

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, **_plain(fields)}
        if event == "error" and self.rank is not None:
            record["rank"] = self.rank
        if self.only is not None and event not in self.only:
            return record
        self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.stream.flush()
        return record


class ProgressBar:
    """A one-line bar on stderr, drawn only when stderr is a terminal (throttled to 10 Hz)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = max(1, total)
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0

    def update(self, iteration: int, text: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = min(1.0, iteration / self.total)
        width = 30
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {iteration}/{self.total} {text}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def setup_logging(verbose: bool = False) -> None:
    """Human-readable logs on stderr only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    LOG.handlers[:] = [handler]
    LOG.setLevel(logging.DEBUG if verbose else logging.INFO)
    LOG.propagate = False


def tag_logs(rank: int, size: int) -> None:
    """Several processes: every log line names its rank; ranks other than 0 log warnings only."""
    if size <= 1:
        return
    for handler in LOG.handlers:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s rank {rank} %(levelname)s %(message)s", "%H:%M:%S")
        )
    if rank != 0 and LOG.level < logging.WARNING:
        LOG.setLevel(logging.WARNING)


def format_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
