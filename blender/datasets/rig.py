"""The tracked rig of an imported dataset: the model from the preferences (or the free stand-in),
animated with the dataset's per-frame parameters as keyframes on bones and shape keys.

The rig itself is built by blender/rig/build.py (``add_rig``) and keyed by its parameter writer;
this module chooses the model, checks which parameters fit it (core/datasets/fit.py) and reports
what had to be left out. When no model can be loaded, cameras and images still import and the
report says why the rig did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bpy
from bpy.types import Collection, Context, Object

from ...core.datasets import Dataset
from ...core.datasets.fit import fit_to_model
from ...core.rig import standins
from ...core.rig.errors import ModelFileError
from ...core.rig.model import RigModel
from ..rig import build, params_io
from ..rig.parts import find_rig


@dataclass
class RigImport:
    rig: bpy.types.Object | None = None
    model: Any = None
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load_rig_model(family: str, model_path: str, cache_dir: str) -> tuple[Any, str]:
    """(RigModel or None, reason when None): the configured file, else the stand-in."""
    try:
        return standins.load_rig_model(family, model_path, cache_dir or None), ""
    except (ModelFileError, OSError, ValueError) as exc:
        return None, str(exc)


def import_rig(
    context: bpy.types.Context,
    dataset: Dataset,
    collection: bpy.types.Collection,
    frame_of_timestep: dict[int, int],
    model_path: str,
    cache_dir: str,
    model: Any = None,
) -> RigImport:
    out = RigImport()
    if dataset.rig_status != "ok" or dataset.rig_family is None:
        out.skipped.append(f"rig: {dataset.rig_message or 'the dataset has no rig parameters'}")
        return out
    if model is None:
        model, reason = load_rig_model(dataset.rig_family, model_path, cache_dir)
        if model is None:
            out.skipped.append(f"rig: {reason}")
            return out
    out.model = model
    fit = fit_to_model(dataset, model)
    out.skipped.extend(fit.skipped)
    out.notes.extend(fit.notes)
    if not fit.params:
        return out
    rig = add_rig(model, collection=collection, context=context)
    frames = {frame_of_timestep[t]: p for t, p in sorted(fit.params.items())}
    for message in key_parameters(rig, frames):
        if message not in out.notes:
            out.notes.append(message)
    out.rig = rig
    return out


def add_rig(model: RigModel, collection: Collection | None = None, context: Context | None = None) -> Object:
    """A rig for model (in a new collection under collection); returns its armature."""
    return build.build_rig(model, context or bpy.context, parent_collection=collection).armature


def key_parameters(rig: Object, frames: Mapping[int, Mapping[str, Any]]) -> list[str]:
    """Keys {frame: dataset parameter dict} on the rig; returns what could not be applied."""
    parts = find_rig(rig)
    if parts is None:
        raise ValueError(f"'{rig.name}' is not part of a Gaussian Avatar rig")
    return params_io.key_frames(parts, frames).messages()
