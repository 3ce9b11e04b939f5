"""``gavatar.render_distributed``: render the frame range on several background Blender workers;
``gavatar.render_distributed_cancel`` stops them; ``gavatar.export_flamenco_job`` writes the same
split as a Flamenco render-farm job.

Scripts and background Blender::

    bpy.ops.gavatar.render_distributed(workers=2, chunk_size=0, wait=True)
    bpy.ops.gavatar.export_flamenco_job(directory="/farm/jobs/shot010", chunk_size=8)
"""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty
from bpy.types import Context, Event, Operator, Scene

from ..blender.farm import runtime as farm_runtime
from ..blender.farm.launch import (
    DistributedRequest,
    FarmSetupError,
    LocalFarm,
    absolute_output,
    check_scene,
    file_stem,
    save_copy,
    start_local_render,
)
from ..core.farm import flamenco
from ..core.farm.frames import FrameSpecError, format_frames, frame_list
from ..engine.registrar import OperatorResult, class_registrar

ENGINE_ITEMS = [
    ("GAVATAR", "Gaussian Avatar", "The Gaussian Avatar engine"),
    ("SCENE", "Scene Engine", "The scene's render engine"),
]


def _addon_module() -> str:
    return __package__.rpartition(".")[0]


def _frame_range(op: Operator, scene: Scene) -> tuple[int, int, int]:
    set_ = op.properties.is_property_set
    return (
        op.frame_start if set_("frame_start") else scene.frame_start,  # type: ignore[attr-defined]
        op.frame_end if set_("frame_end") else scene.frame_end,  # type: ignore[attr-defined]
        op.frame_step if set_("frame_step") else scene.frame_step,  # type: ignore[attr-defined]
    )


def _take_scene_range(op: Operator, scene: Scene) -> None:
    op.frame_start, op.frame_end, op.frame_step = scene.frame_start, scene.frame_end, scene.frame_step  # type: ignore[attr-defined]


class _FrameRange:
    frame_start: IntProperty(name="Start", description="First frame (default: the scene's)", default=1)  # type: ignore[valid-type]
    frame_end: IntProperty(name="End", description="Last frame (default: the scene's)", default=250)  # type: ignore[valid-type]
    frame_step: IntProperty(name="Step", description="Render every n-th frame", default=1, min=1)  # type: ignore[valid-type]
    engine: EnumProperty(name="Engine", items=ENGINE_ITEMS, default="GAVATAR")  # type: ignore[valid-type]
    overwrite: BoolProperty(  # type: ignore[valid-type]
        name="Overwrite",
        description="Render frames whose files are already in the output folder",
        default=False,
    )


class GAVATAR_OT_render_distributed(_FrameRange, Operator):
    """Render the frame range on several background Blender workers into the scene's output path"""

    bl_idname = "gavatar.render_distributed"
    bl_label = "Render Animation on Workers"
    bl_options = {"REGISTER"}

    workers: IntProperty(  # type: ignore[valid-type]
        name="Workers", description="Blender processes rendering at once", default=2, min=1, max=64
    )
    chunk_size: IntProperty(  # type: ignore[valid-type]
        name="Chunk Size", description="Frames per worker task (0: one chunk per worker)", default=0, min=0
    )
    blender_path: StringProperty(  # type: ignore[valid-type]
        name="Blender",
        description="Blender program the workers run (empty: this Blender)",
        subtype="FILE_PATH",
    )
    wait: BoolProperty(  # type: ignore[valid-type]
        name="Wait",
        description="Block until every frame is rendered (scripts and background Blender), printing progress",
        default=False,
        options={"SKIP_SAVE"},
    )

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        scene = context.scene
        assert scene is not None and context.window_manager is not None
        _take_scene_range(self, scene)
        self.workers = max(1, min(self.workers, os.cpu_count() or 1))
        return context.window_manager.invoke_props_dialog(self, width=380)

    def execute(self, context: Context) -> OperatorResult:
        scene = context.scene
        assert scene is not None
        start, end, step = _frame_range(self, scene)
        request = DistributedRequest(
            frame_start=start,
            frame_end=end,
            frame_step=step,
            workers=self.workers,
            chunk_size=self.chunk_size,
            overwrite=self.overwrite,
            engine="" if self.engine == "SCENE" else self.engine,
            blender=self.blender_path,
        )
        busy = [a for a in farm_runtime.active() if a.farm.output == absolute_output(scene)]
        if busy:
            self.report({"ERROR"}, f"A distributed render into '{busy[0].farm.output}' is already running")
            return {"CANCELLED"}
        try:
            started = start_local_render(scene, request, _addon_module())
        except (FarmSetupError, FrameSpecError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not isinstance(started, LocalFarm):
            self.report(
                {"INFO"},
                f"All {len(started.frames)} frames are already in '{absolute_output(scene)}' "
                "(Overwrite renders them again)",
            )
            return {"FINISHED"}
        farm = started
        plan = farm.plan
        skipped = f", {len(plan.skipped)} already on disk" if plan.skipped else ""
        where = f"{plan.to_render} frames in {len(plan.chunks)} chunks on {farm.run.workers} workers{skipped}"
        if not self.wait:
            farm_runtime.submit(farm)
            self.report({"INFO"}, f"Rendering {where}: {farm.output}")
            return {"FINISHED"}
        print(f"Gaussian Avatar: rendering {where}", flush=True)
        return self._wait(farm)

    def _wait(self, farm: LocalFarm) -> OperatorResult:
        def echo(event: farm_runtime.FarmEvent) -> None:
            line = farm_runtime.event_line(event, farm)
            if line:
                print(f"Gaussian Avatar: {line}", flush=True)

        try:
            farm.run.wait(on_event=echo)
        except KeyboardInterrupt:
            farm.run.cancel()
        level, text = farm_runtime.end_report(farm)
        self.report({level}, text)  # type: ignore[arg-type]
        return {"FINISHED"} if level == "INFO" else {"CANCELLED"}


class GAVATAR_OT_render_distributed_cancel(Operator):
    """Stop the workers of a distributed render (frames already written stay)"""

    bl_idname = "gavatar.render_distributed_cancel"
    bl_label = "Cancel Distributed Render"
    bl_options = {"REGISTER", "INTERNAL"}

    farm_id: StringProperty(options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    def execute(self, _context: Context) -> OperatorResult:
        if not farm_runtime.cancel(self.farm_id):
            self.report({"WARNING"}, "No distributed render is running")
            return {"CANCELLED"}
        return {"FINISHED"}


class GAVATAR_OT_export_flamenco_job(_FrameRange, Operator):
    """Write the frame range as a Flamenco render-farm job: a copy of the .blend, the job (JSON for
    the Manager's API) and the Gaussian Avatar job type script for the Manager's scripts folder"""

    bl_idname = "gavatar.export_flamenco_job"
    bl_label = "Export Flamenco Job"
    bl_options = {"REGISTER"}

    directory: StringProperty(  # type: ignore[valid-type]
        name="Job Folder", description="Shared folder the render nodes can read", subtype="DIR_PATH"
    )
    job_name: StringProperty(name="Job Name", description="Name of the job (default: the file's)")  # type: ignore[valid-type]
    chunk_size: IntProperty(name="Chunk Size", description="Frames per task", default=8, min=1)  # type: ignore[valid-type]
    priority: IntProperty(name="Priority", default=50, min=0, max=100)  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        scene = context.scene
        assert scene is not None and context.window_manager is not None
        _take_scene_range(self, scene)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: Context) -> OperatorResult:
        scene = context.scene
        assert scene is not None
        if not self.directory:
            self.report({"ERROR"}, "Choose the folder to write the job to")
            return {"CANCELLED"}
        folder = os.path.abspath(bpy.path.abspath(self.directory))
        name = self.job_name or file_stem()
        stem = bpy.path.clean_name(name)
        engine = "" if self.engine == "SCENE" else self.engine
        start, end, step = _frame_range(self, scene)
        try:
            check_scene(scene, engine)
            job = flamenco.FlamencoJob(
                name=name,
                blendfile=os.path.join(folder, f"{stem}.flamenco.blend"),
                frames=frame_list(start, end, step),
                output=absolute_output(scene),
                chunk_size=self.chunk_size,
                scene=scene.name,
                engine=engine,
                overwrite=self.overwrite,
                priority=self.priority,
                metadata={"gaussian_avatar.source": bpy.data.filepath or "(unsaved)"},
            )
            document = flamenco.job_document(job)
            os.makedirs(folder, exist_ok=True)
            json_path = os.path.join(folder, f"{stem}.flamenco-job.json")
            save_copy(job.blendfile)
            flamenco.write_json(json_path, document)
            script = flamenco.install_job_type(folder)
        except (FarmSetupError, FrameSpecError, ValueError, OSError, RuntimeError) as exc:
            self.report({"ERROR"}, f"Cannot write the Flamenco job: {exc}")
            return {"CANCELLED"}
        tasks = len(flamenco.flamenco_chunks(job.frames, job.chunk_size))
        self.report(
            {"INFO"},
            f"Wrote Flamenco job '{name}' ({format_frames(job.frames)}, {tasks} tasks) to '{json_path}'; "
            f"copy '{script.name}' into the Manager's scripts folder, then POST the JSON to "
            "<manager>/api/v3/jobs",
        )
        return {"FINISHED"}


register, unregister = class_registrar(
    (GAVATAR_OT_render_distributed, GAVATAR_OT_render_distributed_cancel, GAVATAR_OT_export_flamenco_job)
)
