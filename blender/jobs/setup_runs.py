"""The trainer set-up and check runs of this Blender session (``gavatar.trainer_setup`` /
``gavatar.trainer_check`` start them): the current run, driven step by step by a timer so Blender
never freezes, and the last check of each trainer Python."""

from __future__ import annotations

import time
from typing import Any

import bpy

from ...core.jobs import launch
from ...core.jobs.setup import SetupRun
from ...engine import hooks
from .runtime import notify, tag_redraw

TIMER_INTERVAL = 0.3

# Module-level: the set-up processes belong to this session (like the trainers).
_current: dict[str, Any] = {"run": None, "title": "", "started": 0.0}
_checks: dict[str, SetupRun] = {}  # trainer Python -> its last check
_GPU_CACHE: dict[str, float] = {}
GPU_RECHECK_S = 30.0  # panels redraw often; nvidia-smi is asked at most this often
NO_GPU_NOTE = "No NVIDIA GPU found: training runs on the CPU (a preview avatar; a GPU makes a real one)"
NO_CUDA_NOTE = "The trainer Python's torch has no CUDA (Check Trainer): training runs on the CPU"


def current_run() -> SetupRun | None:
    return _current["run"]


def last_check(python: str) -> SetupRun | None:
    return _checks.get(python)


def detected_gpus() -> int:
    """GPUs the trainer would see (nvidia-smi -L; Blender has no torch), cached for a while."""
    now = time.monotonic()
    if now - _GPU_CACHE.get("at", -1e9) > GPU_RECHECK_S:
        _GPU_CACHE.update(count=float(launch.visible_gpus()), at=now)
    return int(_GPU_CACHE["count"])


def known_without_cuda(python: str) -> bool:
    """True when Check Trainer found no CUDA in this Python during this session."""
    run = last_check(python)
    if run is None or not run.done:
        return False
    row = run.result("cuda")
    return row is not None and row.status != "OK"


def training_device(choice: str, python: str) -> tuple[str, str]:
    """The device training uses for the preferences' choice ('AUTO', 'cuda' or 'cpu'), and a
    sentence when Automatic chose the CPU (empty otherwise)."""
    if choice != "AUTO":
        return choice, ""
    if detected_gpus() == 0:
        return "cpu", NO_GPU_NOTE
    if known_without_cuda(python):
        return "cpu", NO_CUDA_NOTE
    return "cuda", ""


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
