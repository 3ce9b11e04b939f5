"""Distributed renders running in the background of the open Blender: a timer drives their worker
processes (core/farm/runner.py), the status bar shows progress with a cancel button, and the
end is reported in the Info log. ``gavatar.render_distributed`` starts them (ops/render_farm.py).

Module-level by necessity, like the training manager: the worker processes outlive the operator.
"""

from __future__ import annotations

import atexit
import itertools
from dataclasses import dataclass

import bpy
from bpy.types import Context, Menu

from ...core.farm.frames import format_frames
from ...core.farm.runner import FarmEvent
from ...engine import hooks as handlers
from ..jobs.runtime import notify, tag_redraw
from .launch import LocalFarm

TIMER_INTERVAL = 0.25


@dataclass
class ActiveFarm:
    farm_id: str
    farm: LocalFarm

    @property
    def label(self) -> str:
        return f"Render on {self.farm.run.workers} workers"


_farms: dict[str, ActiveFarm] = {}
_ids = itertools.count(1)


def event_line(event: FarmEvent, farm: LocalFarm) -> str | None:
    """A console line for one worker event (None for the quiet ones)."""
    run, chunk = farm.run, event.chunk
    if event.kind == "frame":
        return (
            f"frame {event.frame} done ({run.frames_done} of {run.total}; "
            f"chunk {chunk.label}: {len(chunk.done)} of {len(chunk.frames)})"
        )
    if event.kind == "retry":
        return f"chunk {chunk.label} failed, retrying: {event.message}"
    if event.kind == "failed":
        return f"chunk {chunk.label} failed again, giving up: {event.message}"
    return None


def end_report(farm: LocalFarm) -> tuple[str, str]:
    """(level, text) once every chunk ended; removes the temporary .blend."""
    run, plan = farm.run, farm.plan
    logs = farm.cleanup()
    skipped = f"; {len(plan.skipped)} already on disk" if plan.skipped else ""
    if run.cancelled:
        return "WARNING", f"Distributed render cancelled after {run.frames_done} of {run.total} frames"
    if run.failed:
        text = f"Distributed render: {run.frames_done} of {run.total} frames written; {run.failure_report()}"
        return "ERROR", text + (f" (worker logs: {logs})" if logs else "")
    return "INFO", (
        f"Rendered {run.total} frames ({format_frames(plan.frames)}) on {run.workers} workers in "
        f"{run.seconds:.1f} s{skipped}: {farm.output}"
    )


def submit(farm: LocalFarm) -> str:
    farm_id = f"farm{next(_ids)}"
    _farms[farm_id] = ActiveFarm(farm_id, farm)
    handlers.add_timer(_timer, first_interval=0.0)
    return farm_id


def active() -> list[ActiveFarm]:
    return list(_farms.values())


def cancel(farm_id: str = "") -> int:
    """Stops the workers of one distributed render (all when farm_id is empty); how many stopped."""
    stopped = 0
    for key, entry in list(_farms.items()):
        if farm_id and key != farm_id:
            continue
        entry.farm.run.cancel()
        stopped += 1
    _timer()
    return stopped


def _timer() -> float | None:
    for key, entry in list(_farms.items()):
        farm = entry.farm
        for event in farm.run.tick():
            line = event_line(event, farm)
            if line:
                print(f"Gaussian Avatar: {line}", flush=True)
        if farm.run.finished:
            del _farms[key]
            level, text = end_report(farm)
            notify({level}, text)
    tag_redraw()
    return TIMER_INTERVAL if _farms else None


def draw_status(self: Menu, _context: Context) -> None:
    for entry in _farms.values():
        run = entry.farm.run
        row = self.layout.row(align=True)
        row.progress(
            factor=run.frames_done / max(run.total, 1), type="BAR", text=f"{entry.label}: {run.status_line()}"
        )
        op = row.operator("gavatar.render_distributed_cancel", text="", icon="X", emboss=False)
        op.farm_id = entry.farm_id  # type: ignore[attr-defined]


def draw_render_menu(self: Menu, _context: Context) -> None:
    self.layout.separator()
    layout = self.layout
    layout.operator("gavatar.render_distributed", text="Render on Workers...", icon="RENDER_ANIMATION")
    layout.operator("gavatar.export_flamenco_job", text="Export Flamenco Job...")


def _at_exit() -> None:
    for entry in list(_farms.values()):
        entry.farm.run.cancel(grace=2.0)
        entry.farm.cleanup()
    _farms.clear()


def register() -> None:
    bpy.types.STATUSBAR_HT_header.append(draw_status)
    bpy.types.TOPBAR_MT_render.append(draw_render_menu)
    atexit.register(_at_exit)


def unregister() -> None:
    atexit.unregister(_at_exit)
    _at_exit()
    bpy.types.TOPBAR_MT_render.remove(draw_render_menu)
    bpy.types.STATUSBAR_HT_header.remove(draw_status)
