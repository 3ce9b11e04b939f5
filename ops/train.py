"""``gavatar.train`` and the operators around a training: cancel, resume, remove, import the result,
show its images.

The training itself runs as ``<trainer python> -m training fit ...`` (core/jobs); these
operators check the inputs, start or stop jobs, and let blender/jobs/runtime.py mirror them.

Scripts::

    bpy.ops.gavatar.train(data_dir="/data/subject", rig="FLAME", model_path="", iterations=2000,
                          device="cuda", output_dir="/runs/subject", wait=True)
    bpy.ops.gavatar.train(..., gpus=2)   # where 2 GPUs are visible: torchrun, one process a GPU
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Collection, Context, Event, Operator, Scene

from ..addon.preferences import get_preferences
from ..addon.training_props import ACTIVE_STATES, DEVICE_ITEMS, PRESET_ITEMS, RIG_ITEMS
from ..blender.datasets.scene import PROP_FAMILY, PROP_ROOT
from ..blender.jobs import runtime, setup_runs
from ..blender.jobs.result import ResultImportError, dataset_rig, import_trained_avatar
from ..blender.jobs.setup_runs import detected_gpus, known_without_cuda
from ..blender.rig import model_source
from ..blender.rig.parts import RigParts
from ..core import paths
from ..core.datasets import FORMAT_LABELS, SEQUENCE_FORMATS, DatasetError, detect_format, open_dataset
from ..core.datasets.formats.dynerf import FORMAT as DYNERF
from ..core.jobs import launch, preflight
from ..core.jobs.job import TrainingJob, metric_summary
from ..core.jobs.settings import (
    CPU_EXPECTATION,
    RIGS,
    SEQUENCE,
    TrainSettings,
    fit_command,
    parse_extra_args,
    preset_values,
    trainer_environment,
    with_length,
)
from ..core.untrusted.files import open_regular
from ..engine.registrar import OperatorResult, class_registrar


# ------------------------------------------------------------------------------------------ dataset
@dataclass
class DatasetChoice:
    data_dir: str
    collection: Collection | None
    family: str | None
    name: str


def dataset_collections(scene: Scene) -> list[Collection]:
    """Collections made by gavatar.import_dataset in scene."""
    return [c for c in scene.collection.children_recursive if c.get(PROP_ROOT) is not None]


def collection_in_context(context: Context) -> Collection | None:
    """The dataset collection the user means: the one holding the active object, else the active
    collection (or one holding it), else the scene's only dataset collection."""
    scene = context.scene
    if scene is None:
        return None
    candidates = dataset_collections(scene)
    obj = context.active_object
    if obj is not None:
        for coll in candidates:
            if obj.name in coll.all_objects:
                return coll
    layer = context.view_layer.active_layer_collection if context.view_layer else None
    if layer is not None:
        active = layer.collection
        for coll in candidates:
            if coll == active or active in coll.children_recursive:
                return coll
    return candidates[0] if len(candidates) == 1 else None


def _family_of(text: str) -> str | None:
    value = text.upper().replace("-", "")
    return value if value in ("FLAME", "SMPLX") else None


def resolve_dataset(data_dir: str, collection_name: str, context: Context) -> DatasetChoice:
    """Raises ValueError with one sentence when no dataset is given or found."""
    if data_dir:
        folder = bpy.path.abspath(data_dir)
        try:
            detect_format(folder)
        except DatasetError as exc:
            raise ValueError(f"Cannot train from '{folder}': {exc}") from None
        collection = None
        for coll in dataset_collections(context.scene) if context.scene else []:
            if os.path.realpath(str(coll[PROP_ROOT])) == os.path.realpath(folder):
                collection = coll  # an imported dataset of the same folder: bind the result to its rig
                break
        family = _family_of(str(collection.get(PROP_FAMILY, ""))) if collection is not None else None
        return DatasetChoice(folder, collection, family, Path(folder).name)
    if collection_name:
        collection = bpy.data.collections.get(collection_name)
        if collection is None or collection.get(PROP_ROOT) is None:
            raise ValueError(f"'{collection_name}' is not an imported dataset collection.")
    else:
        collection = collection_in_context(context)
        if collection is None:
            raise ValueError(
                "Choose a dataset: import one (File > Import > Gaussian Avatar > Avatar Dataset) and "
                "select it, or give its folder."
            )
    root = str(collection[PROP_ROOT])
    if not Path(root).is_dir():
        raise ValueError(f"The dataset folder of '{collection.name}' ('{root}') is gone.")
    return DatasetChoice(root, collection, _family_of(str(collection.get(PROP_FAMILY, ""))), collection.name)


def family_from_folder(folder: str) -> str | None:
    """FLAME / SMPLX from the dataset's tracking, NONE (a 4D sequence) for the formats with a time
    per image and no rig (told by their files: DyNeRF videos are not decoded for it)."""
    try:
        if detect_format(folder) in SEQUENCE_FORMATS:
            return SEQUENCE
        dataset = open_dataset(folder)
    except DatasetError:
        return None
    return dataset.rig_family


def sequence_format_problem(folder: str, name: str) -> str:
    """'' when the folder trains as a 4D sequence, else why not (one sentence)."""
    try:
        fmt = detect_format(folder)
    except DatasetError as exc:
        return f"Cannot train from '{folder}': {exc}"
    if fmt in SEQUENCE_FORMATS:
        return ""
    return (
        f"'{name}' is a {FORMAT_LABELS.get(fmt, fmt)} dataset without a time per image: a 4D sequence "
        "trains from D-NeRF, DyNeRF or HyperNeRF datasets; choose its rig instead"
    )


# ------------------------------------------------------------------------------------------ model
def file_sha256(path: str) -> str:
    """The file's checksum; only a regular file is read (a named pipe would block, /dev/zero never
    ends), else InputError."""
    digest = hashlib.sha256()
    with open_regular(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_model(family: str, explicit: str, rig: RigParts | None, context: Context) -> tuple[str, str]:
    """(model file, warning). Order: the given file, the dataset rig's recorded file, the
    preference, the free stand-in. Raises ValueError with one sentence."""
    prefs = get_preferences(context)
    chosen = bpy.path.abspath(explicit) if explicit else ""
    if not chosen and rig is not None and rig.info.model_path and Path(rig.info.model_path).is_file():
        chosen = str(rig.info.model_path)
    preference = prefs.flame_model_path if family == "FLAME" else prefs.smplx_model_path
    try:
        path = str(
            model_source.resolve_model_path(
                family, chosen, bpy.path.abspath(preference), "neutral", bpy.path.abspath(prefs.cache_dir)
            )
        )
    except model_source.ModelSourceError as exc:
        raise ValueError(str(exc)) from None
    problem = paths.check_model_file(path, family)
    if problem:
        raise ValueError(problem)
    warning = ""
    expected = str(rig.info.model_sha256) if rig is not None else ""
    if expected and file_sha256(path) != expected:
        warning = (
            f"'{Path(path).name}' is not the model file the dataset's rig was built from: the result "
            "will come in on a new rig"
        )
    return path, warning


# ------------------------------------------------------------------------------------------ GPUs
def gpu_choice_shown(visible: int, device: str) -> bool:
    """The GPU count is offered only for CUDA training where more than one GPU is visible."""
    return device == "cuda" and visible > 1


def training_argv(argv: list[str], gpus: int, device: str, visible: int) -> list[str]:
    """The trainer command on ``gpus`` GPUs (torchrun for more than one). ``visible``: the
    detected count (an argument, so the several-GPU path is testable anywhere). Raises ValueError."""
    problem = launch.gpu_problem(gpus, device, visible)
    if problem:
        raise ValueError(problem)
    return launch.with_gpus(argv, gpus)


# ------------------------------------------------------------------------------------------ train
def _preset_summary(preset: str, device: str, rig: str = "FLAME") -> str:
    if preset == "CUSTOM":
        return "Custom: zero fields use the Standard preset's values"
    v = preset_values(preset, device, rig)
    length = f"{v.iterations:,} iterations" if v.iterations else ""
    if v.time_budget:
        length = (length + ", " if length else "") + f"{v.time_budget / 60:g} min budget"
    return f"{length}; resolution x{v.resolution_scale:g}; up to {v.max_gaussians:,} Gaussians"


class GAVATAR_OT_train(Operator):
    """Train a Gaussian avatar from an imported dataset (or a dataset folder) in the background"""

    bl_idname = "gavatar.train"
    bl_label = "Train Avatar"
    bl_options = {"REGISTER"}  # not UNDO: undo must not take a running training's record away

    data_dir: StringProperty(  # type: ignore[valid-type]
        name="Dataset Folder",
        description="Dataset folder (empty: the selected imported dataset)",
        subtype="DIR_PATH",
    )
    dataset_collection: StringProperty(  # type: ignore[valid-type]
        name="Dataset", description="Imported dataset collection (empty: the one holding the selection)"
    )
    rig: EnumProperty(name="Rig", items=RIG_ITEMS, default="AUTO")  # type: ignore[valid-type]
    model_path: StringProperty(  # type: ignore[valid-type]
        name="Model File",
        description="FLAME / SMPL-X model file (empty: the dataset rig's, the preferences', or the stand-in)",
        subtype="FILE_PATH",
    )
    preset: EnumProperty(name="Preset", items=PRESET_ITEMS, default="STANDARD")  # type: ignore[valid-type]
    iterations: IntProperty(  # type: ignore[valid-type]
        name="Iterations", description="Training steps (0: the preset's)", default=0, min=0
    )
    time_budget: FloatProperty(  # type: ignore[valid-type]
        name="Time Budget",
        description="Seconds of training; the schedule fits into it (0: the preset's)",
        default=0.0,
        min=0.0,
        subtype="TIME_ABSOLUTE",
    )
    resolution_scale: FloatProperty(  # type: ignore[valid-type]
        name="Resolution",
        description="Scale of the dataset images for training (0: the preset's)",
        default=0.0,
        min=0.0,
        max=4.0,
    )
    max_gaussians: IntProperty(  # type: ignore[valid-type]
        name="Gaussian Cap",
        description="Most Gaussians the avatar may have (0: the preset's)",
        default=0,
        min=0,
    )
    frame_stride: IntProperty(  # type: ignore[valid-type]
        name="Frame Stride",
        description="DyNeRF videos (4D sequence): train every n-th frame (0: every frame)",
        default=0,
        min=0,
    )
    max_frames: IntProperty(  # type: ignore[valid-type]
        name="Max Frames",
        description="DyNeRF videos (4D sequence): train at most this many frames (0: all)",
        default=0,
        min=0,
    )
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="DEFAULT")  # type: ignore[valid-type]
    gpus: IntProperty(  # type: ignore[valid-type]
        name="GPUs",
        description=(
            "Train on this many GPUs of this computer, one trainer process each (torchrun); every "
            "step trains one view per GPU. Offered where more than one GPU is visible"
        ),
        default=1,
        min=1,
        max=launch.MAX_GPUS,
    )
    output_dir: StringProperty(  # type: ignore[valid-type]
        name="Output Folder",
        description="Where the avatar, checkpoint and previews go (empty: a new folder in the cache)",
        subtype="DIR_PATH",
    )
    name: StringProperty(name="Name", description="Name of the training and the avatar")  # type: ignore[valid-type]
    extra_args: StringProperty(  # type: ignore[valid-type]
        name="Extra Options",
        description="More trainer options, as on its command line (e.g. --sh-degree 1 --no-refine)",
    )
    import_result: BoolProperty(  # type: ignore[valid-type]
        name="Import Result", description="Bring the avatar into the scene when training ends", default=True
    )
    wait: BoolProperty(  # type: ignore[valid-type]
        name="Wait",
        description="Block until the trainer ends (scripts and background Blender), printing progress",
        default=False,
        options={"SKIP_SAVE"},
    )
    from_job: StringProperty(options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    def invoke(self, context: Context, _event: Event) -> OperatorResult:
        if not self.data_dir and not self.dataset_collection and not self.from_job:
            found = collection_in_context(context)
            if found is not None:
                self.dataset_collection = found.name
        assert context.window_manager is not None
        return context.window_manager.invoke_props_dialog(self, width=460)

    def draw(self, context: Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.prop_search(self, "dataset_collection", bpy.data, "collections", icon="OUTLINER_COLLECTION")
        layout.prop(self, "data_dir")
        layout.prop(self, "rig")
        sequence = self.rig == SEQUENCE
        if not sequence:
            layout.prop(self, "model_path")
        layout.separator()
        layout.prop(self, "preset")
        device = self._device(context)
        layout.label(text=_preset_summary(self.preset, device, str(self.rig)), icon="INFO")
        col = layout.column(align=True)
        col.prop(self, "iterations")
        col.prop(self, "time_budget")
        col.prop(self, "resolution_scale")
        col.prop(self, "max_gaussians")
        if sequence:
            col = layout.column(align=True)
            col.prop(self, "frame_stride")
            col.prop(self, "max_frames")
        layout.prop(self, "device")
        if self.device == "DEFAULT":
            prefs = get_preferences(context)
            note = setup_runs.training_device(str(prefs.device), str(prefs.trainer_python))[1]
            if note:
                layout.label(text=note, icon="INFO")
        visible = detected_gpus()
        if gpu_choice_shown(visible, device):
            row = layout.row()
            row.prop(self, "gpus")
            row.label(text=f"of {visible} visible")
        if device == "cpu":
            layout.label(text=CPU_EXPECTATION, icon="ERROR")
        layout.separator()
        layout.prop(self, "output_dir")
        layout.prop(self, "name")
        layout.prop(self, "extra_args")
        layout.prop(self, "import_result")

    def _device(self, context: Context) -> str:
        if self.device != "DEFAULT":
            return str(self.device)
        prefs = get_preferences(context)
        return setup_runs.training_device(str(prefs.device), str(prefs.trainer_python))[0]

    def _copy_from_job(self, context: Context) -> None:
        _scene, record = runtime.find_record(self.from_job)
        if record is None:
            raise ValueError("The training to start again is gone.")
        if not self.data_dir and not self.dataset_collection:
            if record.dataset_collection is not None:
                self.dataset_collection = record.dataset_collection.name
            else:
                self.data_dir = record.data_dir
        if self.rig == "AUTO" and record.rig:
            self.rig = record.rig
        self.model_path = self.model_path or record.model_path
        if not self.name:
            self.name = f"{record.name} ({self._device(context).upper()})"

    def execute(self, context: Context) -> OperatorResult:
        try:
            if self.from_job:
                self._copy_from_job(context)
            record, job = self._start(context)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not self.wait:
            where = "queued" if job.state == "QUEUED" and runtime.MANAGER.live_count else "started"
            self.report({"INFO"}, f"Training '{record.name}' {where}; output in '{job.output_dir}'")
            return {"FINISHED"}
        try:
            runtime.wait_for(job)
        except KeyboardInterrupt:
            print("Gaussian Avatar: stopping the trainer (writing a checkpoint)...", flush=True)
            job.request_cancel()
            runtime.wait_for(job)
        return report_end(self, record, job)

    def _start(self, context: Context) -> tuple[Any, TrainingJob]:
        prefs = get_preferences(context)
        scene = context.scene
        assert scene is not None
        dataset = resolve_dataset(self.data_dir, self.dataset_collection, context)
        rig = self.rig if self.rig != "AUTO" else (dataset.family or family_from_folder(dataset.data_dir))
        if rig not in RIGS:
            raise ValueError(
                f"'{dataset.name}' has no FLAME or SMPL-X tracking that can be trained, nor a time per "
                "image for a 4D sequence; choose the Rig if the folder has one"
            )
        if dataset.family and dataset.family != rig and rig != SEQUENCE:
            raise ValueError(f"'{dataset.name}' was tracked with {dataset.family}, not {rig}.")
        model, video_choice = "", dict[str, int]()
        if rig == SEQUENCE:
            refusal = sequence_format_problem(dataset.data_dir, dataset.name)
            if refusal:
                raise ValueError(refusal)
            if self.gpus > 1:
                raise ValueError("A 4D sequence trains on one GPU: set GPUs to 1")
            if detect_format(dataset.data_dir) == DYNERF:  # the frame choice is for videos only
                video_choice = {"frame_stride": self.frame_stride, "max_frames": self.max_frames}
        else:
            model, model_warning = resolve_model(
                rig, self.model_path, dataset_rig(dataset.collection), context
            )
            if model_warning:
                self.report({"WARNING"}, model_warning)

        python = bpy.path.abspath(prefs.trainer_python)
        problem = preflight.trainer_python_problem(python)
        if problem:
            raise ValueError(f"{problem} (Preferences > Add-ons > Gaussian Avatar: Set up Trainer)")
        device = self._device(context)
        problem = launch.gpu_problem(self.gpus, device, detected_gpus() if self.gpus > 1 else 1)
        if problem:
            raise ValueError(problem)
        if device == "cuda" and known_without_cuda(python):
            raise ValueError(
                "The trainer Python has no CUDA device (found by Check Trainer): choose Device CPU for a "
                "small Quick Preview run, or set up a trainer Python whose torch has CUDA"
            )
        name = self.name or dataset.name
        output = bpy.path.abspath(self.output_dir) if self.output_dir else ""
        output = output or preflight.default_output_dir(bpy.path.abspath(prefs.cache_dir), name)
        output = os.path.normpath(output)
        busy = runtime.MANAGER.output_in_use(output)
        if busy is not None:
            raise ValueError(
                f"Training '{busy.name}' is already writing to '{output}'; choose another folder."
            )
        problem = preflight.prepare_output_dir(output) or preflight.disk_space_problem(output)
        if problem:
            raise ValueError(problem)

        overrides: dict[str, Any] = {}
        for key in ("iterations", "time_budget", "resolution_scale", "max_gaussians"):
            value = getattr(self, key)
            if value > 0:
                overrides[key] = value
        if self.iterations > 0 and self.time_budget <= 0:
            overrides["time_budget"] = 0.0  # a set length replaces the preset's budget
        overrides["extra_args"] = parse_extra_args(self.extra_args)
        overrides.update(video_choice)
        settings = TrainSettings.from_preset(
            self.preset, data_dir=dataset.data_dir, rig=rig, model_path=model, output_dir=output,
            device=device, overrides=overrides,
        )  # fmt: skip
        problems = settings.problems()
        if problems:
            raise ValueError(" ".join(problems))
        argv = fit_command(python, settings)
        if self.gpus > 1:
            argv = training_argv(argv, self.gpus, device, detected_gpus())

        state = runtime.training_state(scene)
        record = state.jobs.add()
        record.name = _unique_name(name, [r.name for r in state.jobs if r != record])
        job = TrainingJob(argv, trainer_environment(runtime.extension_root()), output, record.name)
        record.job_id = job.job_id
        record.data_dir = dataset.data_dir
        record.dataset_collection = dataset.collection
        record.rig, record.model_path, record.output_dir = rig, model, output
        record.device, record.preset = device, self.preset
        record.gpus = launch.gpus_of(argv)
        record.argv_json = json.dumps(argv)
        record.import_result = self.import_result
        record.iterations = settings.iterations
        state.active_index = len(state.jobs) - 1
        runtime.submit(scene, record, job)
        runtime.drain(echo=self.wait)  # starts it now when a slot is free
        return record, job


def _unique_name(name: str, taken: list[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} {n}" in taken:
        n += 1
    return f"{name} {n}"


def report_end(op: Operator, record: Any, job: TrainingJob) -> OperatorResult:
    """The operator's report once a waited-for training ended."""
    if job.state == "FINISHED":
        summary = metric_summary(job.metrics)
        where = f" as '{record.result_object.name}'" if record.result_object is not None else ""
        op.report({"INFO"}, f"Trained '{record.name}'{where}: {summary or job.avatar_path}")
        if record.import_result and record.result_object is None:
            op.report({"WARNING"}, record.message)
        return {"FINISHED"}
    if job.state == "STOPPED":
        op.report({"WARNING"}, f"Training '{record.name}': {record.message}" + _paren(record.hint))
        return {"CANCELLED"}
    op.report({"ERROR"}, f"Training '{record.name}' failed: {record.message}" + _paren(record.hint))
    if record.stderr_tail:
        op.report({"ERROR"}, "Trainer log (last lines):\n" + record.stderr_tail)
    return {"CANCELLED"}


def _paren(text: str) -> str:
    return f" ({text})" if text else ""


# ------------------------------------------------------------------------------------------ job ops
def _record_or_report(op: Operator, job_id: str) -> tuple[Scene, Any] | None:
    scene, record = runtime.find_record(job_id)
    if record is None or scene is None:
        op.report({"ERROR"}, "No such training")
        return None
    return scene, record


class _JobOperator(Operator):
    job_id: StringProperty(name="Training", options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    def _job_id(self, context: Context) -> str:
        if self.job_id:
            return str(self.job_id)
        scene = context.scene
        if scene is None:
            return ""
        state = runtime.training_state(scene)
        if 0 <= state.active_index < len(state.jobs):
            return str(state.jobs[state.active_index].job_id)
        return ""


class GAVATAR_OT_train_cancel(_JobOperator):
    """Stop the training: it writes a checkpoint first (Resume continues); again to stop at once"""

    bl_idname = "gavatar.train_cancel"
    bl_label = "Cancel Training"
    bl_options = {"REGISTER", "INTERNAL"}

    def execute(self, context: Context) -> OperatorResult:
        found = _record_or_report(self, self._job_id(context))
        if found is None:
            return {"CANCELLED"}
        _scene, record = found
        job = runtime.MANAGER.get(record.job_id)
        if job is None:
            if record.state in ACTIVE_STATES:
                runtime.reconnect_records(restore=False)
            self.report({"INFO"}, f"Training '{record.name}' is not running")
            return {"CANCELLED"}
        forced = job.state == "CANCELLING"
        job.request_cancel()
        runtime.drain()
        text = "stopped at once" if forced else "stopping after writing a checkpoint"
        self.report({"INFO"}, f"Training '{record.name}': {text}")
        return {"FINISHED"}


class GAVATAR_OT_train_resume(_JobOperator):
    """Continue a stopped, failed or interrupted training from its checkpoint"""

    bl_idname = "gavatar.train_resume"
    bl_label = "Resume Training"
    bl_options = {"REGISTER", "INTERNAL"}

    iterations: IntProperty(  # type: ignore[valid-type]
        name="Iterations", description="New total length (0: as before)", default=0, min=0
    )
    time_budget: FloatProperty(  # type: ignore[valid-type]
        name="Time Budget", description="New budget in seconds (0: as before)", default=0.0, min=0.0
    )
    gpus: IntProperty(  # type: ignore[valid-type]
        name="GPUs",
        description="Continue on this many GPUs (0: as before); the checkpoint fits any count",
        default=0,
        min=0,
        max=launch.MAX_GPUS,
    )
    wait: BoolProperty(name="Wait", default=False, options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def execute(self, context: Context) -> OperatorResult:
        found = _record_or_report(self, self._job_id(context))
        if found is None:
            return {"CANCELLED"}
        scene, record = found
        if record.state in ACTIVE_STATES and runtime.MANAGER.get(record.job_id) is not None:
            self.report({"ERROR"}, f"Training '{record.name}' is still running")
            return {"CANCELLED"}
        checkpoint = Path(record.output_dir) / "checkpoint.pt"
        if not checkpoint.is_file():
            self.report(
                {"ERROR"}, f"'{record.name}' has no checkpoint to resume from ('{checkpoint}' is missing)"
            )
            return {"CANCELLED"}
        try:
            argv = [str(a) for a in json.loads(record.argv_json)]
        except ValueError:
            self.report({"ERROR"}, f"'{record.name}' has no stored trainer command")
            return {"CANCELLED"}
        python = bpy.path.abspath(get_preferences(context).trainer_python)
        problem = preflight.trainer_python_problem(python)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        problem = preflight.disk_space_problem(record.output_dir)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        argv[0] = python  # the same trainer command, with today's trainer Python
        try:
            head, trainer = launch.split_launcher(argv)
            trainer = with_length([python, *trainer], self.iterations, self.time_budget)[1:]
            argv = [*head, *trainer]
            if self.gpus > 0:
                device = record.device or "cuda"
                argv = training_argv(argv, self.gpus, device, detected_gpus() if self.gpus > 1 else 1)
        except ValueError as exc:
            self.report({"ERROR"}, f"Cannot resume '{record.name}': {exc}")
            return {"CANCELLED"}
        record.gpus = launch.gpus_of(argv)
        if "--resume" not in argv:
            argv.append("--resume")
        if self.gpus > 0:
            record.argv_json = json.dumps(argv)  # later resumes keep the new count
        env = trainer_environment(runtime.extension_root())
        job = TrainingJob(argv, env, record.output_dir, record.name, job_id=record.job_id)
        job.history = runtime.record_history(record)
        job.progress.iteration, job.progress.iterations = record.iteration, record.iterations
        job.checkpoint_path = str(checkpoint)
        record.state, record.message, record.hint, record.stderr_tail = "QUEUED", "", "", ""
        record.exit_code = -1000
        record.result_object = None
        runtime.submit(scene, record, job)
        runtime.drain(echo=self.wait)
        if not self.wait:
            self.report({"INFO"}, f"Resuming '{record.name}' from its checkpoint")
            return {"FINISHED"}
        runtime.wait_for(job)
        return report_end(self, record, job)


class GAVATAR_OT_train_remove(_JobOperator):
    """Remove the training from the list (its files stay on disk)"""

    bl_idname = "gavatar.train_remove"
    bl_label = "Remove Training"
    bl_options = {"REGISTER", "INTERNAL"}

    def execute(self, context: Context) -> OperatorResult:
        found = _record_or_report(self, self._job_id(context))
        if found is None:
            return {"CANCELLED"}
        scene, record = found
        job = runtime.MANAGER.get(record.job_id)
        if job is not None and job.active:
            self.report({"ERROR"}, f"Training '{record.name}' is running: cancel it first")
            return {"CANCELLED"}
        job_id = str(record.job_id)
        state = runtime.training_state(scene)
        index = next(i for i, r in enumerate(state.jobs) if r.job_id == job_id)
        images = [image for image in (record.plot_image, record.preview_image) if image is not None]
        state.jobs.remove(index)  # record is invalid from here on
        for image in images:
            if image.users == 0:
                bpy.data.images.remove(image)
        state.active_index = max(0, min(state.active_index, len(state.jobs) - 1))
        runtime.MANAGER.forget(job_id)
        return {"FINISHED"}


class GAVATAR_OT_train_import_result(_JobOperator):
    """Import the trained avatar into the scene (again), bound to the dataset's rig when there is one"""

    bl_idname = "gavatar.train_import_result"
    bl_label = "Import Trained Avatar"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    def execute(self, context: Context) -> OperatorResult:
        found = _record_or_report(self, self._job_id(context))
        if found is None:
            return {"CANCELLED"}
        scene, record = found
        try:
            obj, notes = import_trained_avatar(scene, record)
        except ResultImportError as exc:
            self.report({"ERROR"}, f"Cannot import the avatar: {exc}")
            return {"CANCELLED"}
        record.result_object = obj
        for note in notes:
            self.report({"INFO"}, note)
        return {"FINISHED"}


class GAVATAR_OT_train_show_image(_JobOperator):
    """Show the training's preview (ground truth | render) or its loss/PSNR plot in an Image Editor"""

    bl_idname = "gavatar.train_show_image"
    bl_label = "Show Training Image"
    bl_options = {"REGISTER", "INTERNAL"}

    which: EnumProperty(  # type: ignore[valid-type]
        items=[("PREVIEW", "Preview", "Latest preview"), ("PLOT", "Plot", "Loss and PSNR")], default="PREVIEW"
    )

    def execute(self, context: Context) -> OperatorResult:
        found = _record_or_report(self, self._job_id(context))
        if found is None:
            return {"CANCELLED"}
        _scene, record = found
        image = record.preview_image if self.which == "PREVIEW" else record.plot_image
        if image is None:
            self.report({"ERROR"}, "No image yet")
            return {"CANCELLED"}
        screen = context.screen
        editors = [a for a in screen.areas if a.type == "IMAGE_EDITOR"] if screen is not None else []
        if not editors:
            bpy.ops.wm.window_new()
            window = context.window_manager.windows[-1]
            area = window.screen.areas[0]
            area.type = "IMAGE_EDITOR"
            editors = [area]
        editors[0].spaces.active.image = image  # type: ignore[union-attr,attr-defined]
        return {"FINISHED"}


class GAVATAR_OT_train_notify(Operator):
    """Report a training's end in the status bar and Info log (used by the training timer)"""

    bl_idname = "gavatar.train_notify"
    bl_label = "Training Report"
    bl_options = {"INTERNAL"}

    level: StringProperty(default="INFO")  # type: ignore[valid-type]
    message: StringProperty()  # type: ignore[valid-type]

    def execute(self, _context: Context) -> OperatorResult:
        level = self.level if self.level in {"INFO", "WARNING", "ERROR"} else "INFO"
        self.report({level}, self.message)  # type: ignore[arg-type]
        return {"FINISHED"}


register, unregister = class_registrar(
    (
        GAVATAR_OT_train,
        GAVATAR_OT_train_cancel,
        GAVATAR_OT_train_resume,
        GAVATAR_OT_train_remove,
        GAVATAR_OT_train_import_result,
        GAVATAR_OT_train_show_image,
        GAVATAR_OT_train_notify,
    )
)
