"""A time bound for one fuzz case: SIGALRM raises ``CaseTimeout`` in the main thread, also out of
a blocking ``open`` (a named pipe) or a long loop."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class CaseTimeout(BaseException):
    """The case ran past its time bound."""


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    def alarm(_signum: int, _frame: Any) -> None:
        raise CaseTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)
