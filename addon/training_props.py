"""What the .blend keeps of each training (``scene.gavatar_training``): its settings, the exact
trainer command, the last progress, the result and any error. A running process does not survive
a reload; its record then says so and offers Resume from the checkpoint."""

from __future__ import annotations

from typing import Any

from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import Collection, Image, Object, PropertyGroup, Scene

from ..core.jobs.settings import PRESET_ORDER, PRESETS
from ..engine.registrar import class_registrar

STATE_ITEMS = [
    ("QUEUED", "Queued", "Waits for a free slot", "SORTTIME", 0),
    ("STARTING", "Starting", "The trainer is loading the data", "TIME", 1),
    ("RUNNING", "Running", "Training", "PLAY", 2),
    ("CANCELLING", "Stopping", "Writing a checkpoint before stopping", "PAUSE", 3),
    ("FINISHED", "Finished", "The avatar is trained", "CHECKMARK", 4),
    ("STOPPED", "Stopped", "Stopped by the user; Resume continues from the checkpoint", "CANCEL", 5),
    ("FAILED", "Failed", "The training ended with an error", "ERROR", 6),
    (
        "INTERRUPTED",
        "Interrupted",
        "Blender closed while it ran; Resume continues from the checkpoint",
        "UNLINKED",
        7,
    ),
]
STATE_ICONS: dict[str, Any] = {item[0]: item[3] for item in STATE_ITEMS}  # Any: the stubs list icons
ACTIVE_STATES = {"QUEUED", "STARTING", "RUNNING", "CANCELLING"}

RIG_ITEMS = [
    (
        "AUTO", "From Dataset",
        "The rig family the dataset was tracked with; a 4D sequence for D-NeRF, DyNeRF and HyperNeRF data",
    ),
    ("FLAME", "FLAME", "Head avatars (FLAME 2020 / 2023)"),
    ("SMPLX", "SMPL-X", "Full-body avatars"),
    (
        "NONE", "None (4D Sequence)",
        "No rig: Gaussians that move over time, from a dataset with a time per image (D-NeRF, DyNeRF, "
        "HyperNeRF), played on the timeline",
    ),
]  # fmt: skip
DEVICE_ITEMS = [
    ("DEFAULT", "Preferences", "The device set in the add-on preferences"),
    ("cuda", "CUDA", "Train on the NVIDIA GPU with gsplat"),
    ("cpu", "CPU", "The pure-torch reference rasterizer: tiny runs only"),
]
_PRESET_LABELS = {key: (p.label, p.description) for key, p in PRESETS.items()}
_PRESET_LABELS["CUSTOM"] = ("Custom", "Set every value yourself")
PRESET_ITEMS = [(key, *_PRESET_LABELS[key]) for key in PRESET_ORDER]


class GAVATAR_TrainJob(PropertyGroup):
    # name (PropertyGroup's own) is the label shown in the list
    job_id: StringProperty(name="Job ID")  # type: ignore[valid-type]
    state: EnumProperty(name="State", items=STATE_ITEMS, default="QUEUED")  # type: ignore[valid-type]
    # --- settings
    data_dir: StringProperty(name="Dataset", subtype="DIR_PATH")  # type: ignore[valid-type]
    dataset_collection: PointerProperty(name="Dataset Collection", type=Collection)  # type: ignore[valid-type]
    rig: StringProperty(name="Rig")  # type: ignore[valid-type]
    model_path: StringProperty(name="Model File", subtype="FILE_PATH")  # type: ignore[valid-type]
    output_dir: StringProperty(name="Output Folder", subtype="DIR_PATH")  # type: ignore[valid-type]
    device: StringProperty(name="Device")  # type: ignore[valid-type]
    gpus: IntProperty(name="GPUs", description="Trainer processes, one a GPU (torchrun)", default=1)  # type: ignore[valid-type]
    preset: StringProperty(name="Preset")  # type: ignore[valid-type]
    argv_json: StringProperty(name="Command", description="The trainer command (JSON list)")  # type: ignore[valid-type]
    import_result: BoolProperty(name="Import Result", default=True)  # type: ignore[valid-type]
    # --- progress
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")  # type: ignore[valid-type]
    iteration: IntProperty(name="Iteration")  # type: ignore[valid-type]
    iterations: IntProperty(name="Iterations")  # type: ignore[valid-type]
    loss: FloatProperty(name="Loss", default=float("nan"))  # type: ignore[valid-type]
    # PSNR on the training views at the training scale (a fit figure, not the avatar's quality)
    psnr: FloatProperty(name="PSNR", default=float("nan"))  # type: ignore[valid-type]
    train_resolution: StringProperty(name="Training Resolution")  # type: ignore[valid-type]  # WxH
    eta: FloatProperty(name="ETA", default=-1.0)  # type: ignore[valid-type]
    its_per_s: FloatProperty(name="Iterations per Second")  # type: ignore[valid-type]
    gaussians: IntProperty(name="Gaussians")  # type: ignore[valid-type]
    history_json: StringProperty(name="History", description="(iteration, loss, psnr) rows as JSON")  # type: ignore[valid-type]
    preview_image: PointerProperty(name="Preview", type=Image)  # type: ignore[valid-type]
    plot_image: PointerProperty(name="Plot", type=Image)  # type: ignore[valid-type]
    first_progress_seconds: FloatProperty(name="Start-up", default=-1.0)  # type: ignore[valid-type]
    # --- result
    checkpoint_path: StringProperty(name="Checkpoint", subtype="FILE_PATH")  # type: ignore[valid-type]
    checkpoint_iteration: IntProperty(name="Checkpoint Iteration")  # type: ignore[valid-type]
    avatar_path: StringProperty(name="Avatar File", subtype="FILE_PATH")  # type: ignore[valid-type]
    metrics_json: StringProperty(name="Metrics")  # type: ignore[valid-type]
    result_object: PointerProperty(name="Avatar", type=Object)  # type: ignore[valid-type]
    message: StringProperty(name="Message")  # type: ignore[valid-type]
    hint: StringProperty(name="Hint")  # type: ignore[valid-type]
    error_kind: StringProperty(name="Error Kind")  # type: ignore[valid-type]
    stderr_tail: StringProperty(name="Trainer Log Tail")  # type: ignore[valid-type]
    exit_code: IntProperty(name="Exit Code", default=-1000)  # type: ignore[valid-type]


class GAVATAR_TrainingState(PropertyGroup):
    jobs: CollectionProperty(type=GAVATAR_TrainJob)  # type: ignore[valid-type]
    active_index: IntProperty(name="Active Training", default=0)  # type: ignore[valid-type]
    max_parallel: IntProperty(  # type: ignore[valid-type]
        name="Parallel Trainings",
        description="How many trainings run at once; the rest wait in the queue (one per GPU is usual)",
        default=1,
        min=1,
        max=8,
    )
    show_log: BoolProperty(name="Show Trainer Log", default=False)  # type: ignore[valid-type]


_register_classes, _unregister_classes = class_registrar((GAVATAR_TrainJob, GAVATAR_TrainingState))


def register() -> None:
    _register_classes()
    Scene.gavatar_training = PointerProperty(type=GAVATAR_TrainingState)  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    del Scene.gavatar_training  # type: ignore[attr-defined]
    _unregister_classes()
