"""A finished training into the scene: the avatar imported as ``gavatar.import_avatar`` does, bound
to the rig that the dataset import made (when the training came from an imported dataset), at the
dataset's first frame; else on a new rig posed with the first training frame's parameters. A 4D
sequence (rig NONE) comes in as ``gavatar.import_sequence`` brings a ``.gavatar4d``: a splat object
that follows the scene frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bpy
from bpy.types import Collection, Object, Scene

from ...core.avatar.avatar_file import AvatarFileError
from ...core.avatar.binding import BindingError
from ...core.avatar.sequence_file import SequenceFileError
from ...core.datasets import DatasetError, open_dataset
from ...core.jobs.job import metric_summary
from ...core.jobs.settings import SEQUENCE
from ...engine.splats.data import SplatDataError
from .. import avatar_io as avatar_import
from ..datasets.scene import PROP_FRAME_START
from ..interop.sequence_import import import_sequence
from ..rig import params_io
from ..rig.parts import RigParts, find_rig, rig_info


class ResultImportError(RuntimeError):
    """The trained avatar could not be brought into the scene; one sentence why."""


def dataset_rig(collection: Collection | None) -> RigParts | None:
    """The rig the dataset import made inside collection (None when it made none)."""
    if collection is None:
        return None
    for obj in collection.all_objects:
        if obj.type == "ARMATURE" and rig_info(obj).role == "ARMATURE":
            parts = find_rig(obj)
            if parts is not None:
                return parts
    return None


def _window_override(scene: Scene) -> dict[str, Any]:
    """Context members for operators run from a timer: a window showing scene, when there is one."""
    wm = bpy.context.window_manager
    for window in wm.windows if wm is not None else []:
        if window.scene == scene:
            return {"window": window, "scene": scene, "view_layer": window.view_layer}
    return {"scene": scene, "view_layer": scene.view_layers[0]}


SEQUENCE_FILE = "sequence.gavatar4d"  # what a 4D fit bakes (training/fourd/trainer.py)


def import_trained_avatar(scene: Scene, record: Any) -> tuple[Object, list[str]]:
    """Imports record's avatar (or 4D sequence) into scene; returns the splat object and notes for
    the user."""
    sequence = record.rig == SEQUENCE
    default = SEQUENCE_FILE if sequence else "avatar.gavatar"
    path = bpy.path.abspath(record.avatar_path) or str(Path(record.output_dir) / default)
    if not Path(path).is_file():
        raise ResultImportError(f"the {'sequence' if sequence else 'avatar'} file '{path}' is missing")
    with bpy.context.temp_override(**_window_override(scene)):
        if sequence:
            return _import_sequence(bpy.context, record, path)
        return _import(bpy.context, scene, record, path)


def _import_sequence(context: Any, record: Any, path: str) -> tuple[Object, list[str]]:
    try:
        obj = import_sequence(context, path, name=record.name)
    except (SequenceFileError, SplatDataError, ValueError) as exc:
        raise ResultImportError(str(exc)) from None
    except OSError as exc:
        raise ResultImportError(f"cannot read '{path}': {exc.strerror or exc}") from None
    obj["gavatar_training_metrics"] = json.dumps(_metrics(record))
    summary = metric_summary(_metrics(record))
    return obj, [f"{record.name}: {summary}"] if summary else []


def _import(context: Any, scene: Scene, record: Any, path: str) -> tuple[Object, list[str]]:
    notes: list[str] = []
    collection = record.dataset_collection
    rig = dataset_rig(collection)
    result = None
    if rig is not None:
        try:
            result = avatar_import.import_avatar(context, path, rig=rig, name=record.name)
        except avatar_import.AvatarImportError as exc:
            notes.append(f"not bound to the dataset's rig ({exc}); imported on a new rig")
    try:
        if result is None:
            result = avatar_import.import_avatar(
                context, path, model_path=record.model_path, name=record.name
            )
            notes += _pose_first_frame(result.rig, record)
    except (
        AvatarFileError,
        avatar_import.AvatarImportError,
        SplatDataError,
        BindingError,
        ValueError,
    ) as exc:
        raise ResultImportError(str(exc)) from None
    except OSError as exc:
        raise ResultImportError(f"cannot read '{path}': {exc.strerror or exc}") from None
    notes += result.notes
    if rig is not None and collection is not None and PROP_FRAME_START in collection:
        scene.frame_set(int(collection[PROP_FRAME_START]))  # the dataset's first frame: its pose
    obj = result.splats
    obj["gavatar_training_metrics"] = json.dumps(_metrics(record))
    view_layer = context.view_layer
    if view_layer is not None and context.mode == "OBJECT" and obj.name in view_layer.objects:
        for other in view_layer.objects.selected:
            other.select_set(False)
        obj.select_set(True)
        view_layer.objects.active = obj
    summary = metric_summary(_metrics(record))
    if summary:
        notes.append(f"{record.name}: {summary}")
    return obj, notes


def _metrics(record: Any) -> dict[str, Any]:
    try:
        metrics = json.loads(record.metrics_json or "{}")
    except ValueError:
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _pose_first_frame(parts: RigParts, record: Any) -> list[str]:
    """A new rig: pose it with the first training timestep's tracked parameters."""
    try:
        dataset = open_dataset(bpy.path.abspath(record.data_dir))
    except DatasetError as exc:
        return [f"the rig keeps its rest pose: {exc}"]
    train = dataset.split("train") or dataset.frames
    if not train or not dataset.rig_params:
        return ["the rig keeps its rest pose: the dataset has no rig parameters"]
    first = min(f.timestep for f in train)
    params = dataset.rig_params.get(first)
    if params is None:
        return ["the rig keeps its rest pose: the first frame has no rig parameters"]
    try:
        report = params_io.apply_params(parts, params)
    except (params_io.ParamsError, ValueError) as exc:
        return [f"the rig keeps its rest pose: {exc}"]
    return report.messages()
