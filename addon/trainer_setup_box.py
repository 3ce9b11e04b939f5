"""The preferences' trainer section: the set-up and check buttons and the last run's steps."""

from __future__ import annotations

from typing import Any

from bpy.types import Context, UILayout

from ..blender.jobs import setup_runs
from ..core.jobs import setup

STATUS_ICONS: dict[str, Any] = {
    setup.PENDING: "LAYER_USED",
    setup.RUNNING: "SORTTIME",
    setup.OK: "CHECKMARK",
    setup.FAILED: "CANCEL",
    setup.SKIPPED: "BLANK1",
    setup.WARNING: "ERROR",
}


def draw_setup(layout: UILayout, _context: Context) -> None:
    """The preferences' trainer section: the buttons and the last run's steps."""
    box = layout.box()
    row = box.row(align=True)
    run = setup_runs.current_run()
    running = run is not None and not run.done
    row.enabled = not running
    row.operator("gavatar.trainer_setup", icon="CONSOLE")
    row.operator("gavatar.trainer_check", icon="CHECKMARK")
    if run is None:
        box.label(text="Set up makes a Python with torch + gsplat (a few GB); Check tests an existing one")
        return
    head = box.row()
    head.label(text=f"{setup_runs.title()}: {'running...' if running else run.summary()}")
    if running:
        head.operator("gavatar.trainer_setup_cancel", text="", icon="X")
    col = box.column(align=True)
    for result in run.results:
        line = col.row()
        line.label(text=result.label, icon=STATUS_ICONS.get(result.status, "DOT"))
        line.label(text=result.detail[-90:])
    if run.log_path:
        box.label(text=f"Log: {run.log_path}", icon="TEXT")
