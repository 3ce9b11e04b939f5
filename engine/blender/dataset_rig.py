"""The tracked rig of an imported dataset: the model from the preferences (or the free stand-in),
animated with the dataset's per-frame parameters as keyframes on bones and shape keys.

The rig itself is built by the rig binding (``add_rig``) and keyed by its parameter writer; this
module chooses the model, checks which parameters fit it (engine/datasets/fit.py) and reports
what had to be left out. Where a piece is not available, cameras and images still import and the
report says why the rig did not.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ..datasets import Dataset
from ..datasets.fit import fit_to_model


@dataclass
class RigImport:
    rig: bpy.types.Object | None = None
    model: Any = None
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _optional(module: str) -> Any:
    """A sibling module that another part of the project provides, or None before it lands."""
    try:
        return importlib.import_module(module, __package__)
    except ImportError:
        return None


def load_rig_model(family: str, model_path: str, cache_dir: str) -> tuple[Any, str]:
    """(RigModel or None, reason when None)."""
    loaders = _optional("..rig.loaders")
    if loaders is None or not hasattr(loaders, "load_model"):
        return None, "loading rig models is not available in this build yet"
    path = Path(model_path) if model_path else _standin_path(loaders, family, cache_dir)
    if path is None:
        return None, f"no {family} model file is set and the free stand-in has not been built"
    try:
        return loaders.load_model(str(path), family=family), ""
    except TypeError:
        return loaders.load_model(str(path)), ""
    except Exception as exc:  # the loader's own message names the file and the problem
        return None, str(exc)


def _standin_path(loaders: Any, family: str, cache_dir: str) -> Path | None:
    finder = getattr(loaders, "standin_path", None)
    if finder is not None:
        found = finder(family, cache_dir or None)
        return Path(found) if found and Path(found).exists() else None
    return None


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
    binding = _optional("..blender.rig_build") or _optional(".rig_build")
    if binding is None or not hasattr(binding, "add_rig"):
        out.skipped.append("rig: building rigs in Blender is not available in this build yet")
        return out
    rig = binding.add_rig(model, collection=collection, context=context)
    writer = getattr(binding, "key_parameters", None)
    if writer is None:
        out.skipped.append("rig: writing parameter keyframes is not available in this build yet")
    else:
        writer(rig, {frame_of_timestep[t]: p for t, p in sorted(fit.params.items())})
    out.rig = rig
    return out
