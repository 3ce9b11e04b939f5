"""A one-line progress bar per stage on stderr (redrawn in place on a terminal, sparse lines
otherwise, so logs stay readable)."""

from __future__ import annotations

import sys
import time


class StageBar:
    def __init__(self, stage: str, total: float = 1.0) -> None:
        self.stage = stage
        self.total = max(total, 1e-9)
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last_line = 0.0
        self._last_fraction = -1.0

    def update(self, done: float, note: str = "") -> None:
        fraction = min(max(done / self.total, 0.0), 1.0)
        now = time.perf_counter()
        if not self.tty and fraction - self._last_fraction < 0.1 and now - self._last_line < 30:
            return
        self._last_line, self._last_fraction = now, fraction
        width = 30
        filled = round(fraction * width)
        bar = "#" * filled + "-" * (width - filled)
        elapsed = now - self.start
        text = f"[demo] {self.stage:<9} [{bar}] {fraction * 100:5.1f}% {elapsed:6.0f}s {note}"
        if self.tty:
            sys.stderr.write("\r" + text[:160].ljust(160))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def log(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)
