"""SIGTERM / SIGINT handling: the first signal asks the loop to checkpoint and stop at the end of
the current iteration; a second one stops at once (no checkpoint). ``repeat_grace``: a signal that
comes within that many seconds of the first counts as the same request (a launcher such as
torchrun forwards the user's Ctrl-C to processes that got it already)."""

from __future__ import annotations

import signal
import time
from types import FrameType


class StopRequest:
    def __init__(self, repeat_grace: float = 0.0) -> None:
        self.signal_name: str | None = None
        self.repeat_grace = repeat_grace
        self._first_at = 0.0
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def request(self, name: str) -> None:
        """Ask for a stop as a signal would (tests and ``--stop-after`` use this)."""
        self.signal_name = name

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal_name is not None:
            if time.monotonic() - self._first_at < self.repeat_grace:
                return  # the same request, passed on by the launcher
            raise KeyboardInterrupt  # second signal: give up without a checkpoint
        self.signal_name = signal.Signals(signum).name
        self._first_at = time.monotonic()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()
