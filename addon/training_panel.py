"""The Avatar tab's Training panel: start a training, the list of trainings, and the selected one's
progress bar, figures, loss/PSNR plot, latest preview, result or error, Cancel and Resume."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bpy.types import Context, Panel, UILayout, UIList

from ..blender.jobs import runtime
from ..core.jobs import plot
from ..core.jobs.job import format_duration, metric_summary
from ..core.jobs.settings import CPU_EXPECTATION, CPU_RETRY_PRESET, SEQUENCE
from ..engine.registrar import class_registrar
from .training_props import ACTIVE_STATES, STATE_ICONS, STATE_ITEMS

STATE_LABELS = {item[0]: item[1] for item in STATE_ITEMS}
THUMBNAIL_SCALE = 7.0


class GAVATAR_UL_trainings(UIList):
    bl_idname = "GAVATAR_UL_trainings"

    def draw_item(
        self,
        _context: Context,
        layout: UILayout,
        _data: Any,
        item: Any,
        _icon: int | None,
        _active_data: Any,
        _active_property: str | None,
        _index: int | None = 0,
        _flt_flag: int | None = 0,
    ) -> None:
        row = layout.row(align=True)
        row.label(text=item.name, icon=STATE_ICONS.get(item.state, "DOT"))
        if item.state in ACTIVE_STATES and item.state != "QUEUED":
            row.label(text=f"{item.progress * 100:.0f}%")
        else:
            row.label(text=STATE_LABELS.get(item.state, item.state))


class GAVATAR_PT_training(Panel):
    bl_idname = "GAVATAR_PT_training"
    bl_label = "Training"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"
    bl_parent_id = "GAVATAR_PT_main"

    def draw(self, context: Context) -> None:
        layout = self.layout
        scene = context.scene
        if scene is None or layout is None:
            return
        state = runtime.training_state(scene)
        layout.operator_context = "INVOKE_DEFAULT"
        layout.operator("gavatar.train", icon="PLAY")
        layout.operator("gavatar.track_video", text="Track a Video...", icon="TRACKER")
        if not len(state.jobs):
            layout.label(text="Import a dataset, select it, and train", icon="INFO")
            return
        layout.template_list(GAVATAR_UL_trainings.bl_idname, "", state, "jobs", state, "active_index", rows=3)
        row = layout.row()
        row.prop(state, "max_parallel")
        if 0 <= state.active_index < len(state.jobs):
            draw_record(layout, state, state.jobs[state.active_index])


def _figures(layout: UILayout, record: Any) -> None:
    grid = layout.grid_flow(columns=2, even_columns=True, align=True)
    loss = record.loss
    psnr = record.psnr
    grid.label(
        text=f"Iteration {record.iteration:,}/{record.iterations:,}" if record.iterations else "Iteration -"
    )
    grid.label(text=f"ETA {format_duration(record.eta) if record.eta >= 0 else '?'}")
    grid.label(text=f"Loss {loss:.4f}" if math.isfinite(loss) else "Loss -")
    grid.label(text=f"{record.gaussians:,} Gaussians")
    grid.label(text=f"{record.its_per_s:.1f} it/s" if record.its_per_s else "")
    # Only a fit figure: the training views at the training scale, not the avatar's quality (the
    # held-out figures at the dataset's resolution come with the result).
    grid.label(text=train_psnr_text(psnr, record.train_resolution))


def train_psnr_text(psnr: float, resolution: str) -> str:
    """'Fit 28.1 dB (training views, 32x32)' or '' before the first figure."""
    if not math.isfinite(psnr):
        return ""
    return (
        f"Fit {psnr:.1f} dB (training views, {resolution})"
        if resolution
        else f"Fit {psnr:.1f} dB (training views)"
    )


def _thumbnail(layout: UILayout, record: Any, key: str, which: str, caption: list[str]) -> None:
    icon = runtime.icon_id(f"{key}:{record.job_id}")
    image = record.plot_image if which == "PLOT" else record.preview_image
    if image is None:
        return
    box = layout.box()
    if icon:
        box.template_icon(icon_value=icon, scale=THUMBNAIL_SCALE)
    row = box.row()
    for line in caption:
        row.label(text=line)
    op = row.operator("gavatar.train_show_image", text="", icon="WINDOW")
    op.job_id, op.which = record.job_id, which


def draw_record(layout: UILayout, state: Any, record: Any) -> None:
    active = record.state in ACTIVE_STATES
    box = layout.box()
    head = box.row()
    head.label(text=f"{record.name}: {STATE_LABELS.get(record.state, record.state)}",
               icon=STATE_ICONS.get(record.state, "DOT"))  # fmt: skip
    if active:
        cancel = head.operator(
            "gavatar.train_cancel", text="Force Stop" if record.state == "CANCELLING" else "Cancel", icon="X"
        )
        cancel.job_id = record.job_id
        box.progress(factor=record.progress, type="BAR", text=f"{record.progress * 100:.0f}%")
    if record.state not in ("QUEUED",):
        _figures(box, record)
    if record.message:
        box.label(text=record.message, icon="ERROR" if record.state == "FAILED" else "INFO")
    if record.hint:
        box.label(text=record.hint)

    if record.state == "FINISHED":
        _draw_result(box, record)
    if record.state == "FAILED":
        _draw_failure(box, state, record)
    if not active:
        row = box.row(align=True)
        if record.output_dir and (Path(record.output_dir) / "checkpoint.pt").is_file():
            resume = row.operator("gavatar.train_resume", icon="PLAY")
            resume.job_id = record.job_id
        remove = row.operator("gavatar.train_remove", text="Remove", icon="TRASH")
        remove.job_id = record.job_id

    history = runtime.record_history(record)
    if history:
        _thumbnail(layout, record, "plot", "PLOT", plot.describe_ranges(plot.ranges_of(history)))
    if record.preview_image is not None:
        _thumbnail(layout, record, "preview", "PREVIEW", ["Ground truth | render"])
    col = layout.column(align=True)
    where = f"{record.gpus} GPUs" if record.gpus > 1 else record.device.upper()
    what = "4D sequence" if record.rig == SEQUENCE else record.rig
    col.label(text=f"{what} on {where}, preset {record.preset.title()}")
    if record.device == "cpu":
        col.label(text=CPU_EXPECTATION, icon="INFO")
    folder = col.row(align=True)
    folder.label(text=record.output_dir, icon="FILE_FOLDER")
    folder.operator("wm.path_open", text="", icon="FILEBROWSER").filepath = record.output_dir
    if record.first_progress_seconds >= 0:
        col.label(text=f"First progress {record.first_progress_seconds:.1f} s after start")


def _draw_result(layout: UILayout, record: Any) -> None:
    try:
        metrics = json.loads(record.metrics_json or "{}")
    except ValueError:
        metrics = {}
    summary = metric_summary(metrics) if isinstance(metrics, dict) else ""
    for part in summary.split("; ") if summary else []:
        layout.label(text=part, icon="DOT")
    row = layout.row(align=True)
    if record.result_object is not None:
        row.label(text=record.result_object.name, icon="OUTLINER_OB_POINTCLOUD")
    text = "Import" if record.result_object is None else "Import Again"
    op = row.operator("gavatar.train_import_result", text=text, icon="IMPORT")
    op.job_id = record.job_id


def _draw_failure(layout: UILayout, state: Any, record: Any) -> None:
    if record.error_kind == "no_cuda":
        op = layout.operator(
            "gavatar.train", text=f"Retry on CPU ({CPU_RETRY_PRESET.title()})", icon="MEMORY"
        )
        op.from_job, op.device, op.preset = record.job_id, "cpu", CPU_RETRY_PRESET
        layout.label(text=CPU_EXPECTATION)
    if record.error_kind == "trainer_python":
        layout.operator("gavatar.trainer_check", icon="CHECKMARK")
    if record.stderr_tail:
        layout.prop(state, "show_log", text="Trainer Log", icon="TEXT", emboss=False)
        if state.show_log:
            col = layout.column(align=True)
            for line in record.stderr_tail.splitlines()[-runtime.LOG_TAIL_LINES :]:
                col.label(text=line[-120:])


register, unregister = class_registrar((GAVATAR_UL_trainings, GAVATAR_PT_training))
