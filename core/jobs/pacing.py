"""How often training talks, and how long it says it has left (bpy-free, torch-free).

Shared by the trainer (its stderr log and the ``eta`` of its progress events) and Blender's
console echo. A CPU run's iteration time swings with density control, evaluations and other
programs on the machine, so an ETA from the last window alone jumped between 3 and 39 minutes;
``EtaEstimate`` smooths the seconds per iteration and, with a time budget, trusts the budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

LOG_INTERVAL_SECONDS = 5.0  # at most one human progress line this often
ETA_SMOOTHING = 0.2  # weight of the newest window in the moving average of seconds per iteration


class Throttle:
    """``ready()`` is True at most once per ``interval`` seconds (the first call always is)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last = -math.inf

    def ready(self, force: bool = False) -> bool:
        now = self.clock()
        if not force and now - self.last < self.interval:
            return False
        self.last = now
        return True


class EtaEstimate:
    """Seconds left: an exponential moving average of the seconds per iteration over the windows
    between progress events; a time budget caps it (and is exact once the budget will end the
    run first)."""

    def __init__(self, smoothing: float = ETA_SMOOTHING) -> None:
        self.smoothing = smoothing
        self.seconds_per_iteration: float | None = None

    def add_window(self, seconds: float, iterations: int) -> None:
        if iterations <= 0 or not math.isfinite(seconds) or seconds < 0:
            return
        latest = seconds / iterations
        if self.seconds_per_iteration is None:
            self.seconds_per_iteration = latest
        else:
            a = self.smoothing
            self.seconds_per_iteration = a * latest + (1 - a) * self.seconds_per_iteration

    def remaining(self, iteration: int, iterations: int, elapsed: float = 0.0, budget: float = 0.0) -> float:
        left = math.inf
        if self.seconds_per_iteration is not None:
            left = max(0, iterations - iteration) * self.seconds_per_iteration
        if budget > 0:
            left = min(left, max(0.0, budget - elapsed))
        return left
