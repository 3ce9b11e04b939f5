"""The trainer set-up and check runs of this Blender session (``gavatar.trainer_setup`` /
``gavatar.trainer_check`` start them): the current run, driven step by step by a timer so Blender
never freezes, and the last check of each trainer Python."""

from __future__ import annotations

import time
from typing import Any

import bpy

from ...core.jobs.setup import SetupRun
from ...engine import hooks
from .runtime import notify, tag_redraw

TIMER_INTERVAL = 0.3

# Module-level: the set-up processes belong to this session (like the trainers).
_current: dict[str, Any] = {"run": None, "title": "", "started": 0.0}
_checks: dict[str, SetupRun] = {}  # trainer Python -> its last check


def current_run() -> SetupRun | None:
    return _current["run"]


def last_check(python: str) -> SetupRun | None:
    return _checks.get(python)


def begin(run: SetupRun, title: str) -> None:
    """Makes run the current one and drives it from a timer until it ends."""
    _current.update(run=run, title=title, started=time.monotonic())
    run.tick()
    if not bpy.app.timers.is_registered(_timer):
        hooks.add_timer(_timer, first_interval=TIMER_INTERVAL)


def drive() -> bool:
    """One step of the current run (the timer's work; tests call it). True while it runs."""
    run = current_run()
    if run is None or run.done:
        return False
    if run.tick():
        tag_redraw()
    if run.done:
        _checks[run.python] = run
        notify({"INFO"} if run.ok else {"ERROR"}, f"{_current['title']}: {run.summary()}")
        tag_redraw()
        return False
    return True


def _timer() -> float | None:
    return TIMER_INTERVAL if drive() else None


def title() -> str:
    """What the current run is called in messages ("Set up Trainer" / "Check Trainer")."""
    return str(_current["title"])
