"""Which of a dataset's rig parameters a given model can take, and what has to be left out.

Used by the Blender import (and usable by the trainer) before posing a model with dataset
parameters: a FLAME 2023 ``static_offset`` with teeth vertices does not fit a model without them,
300 shape coefficients do not all fit a stand-in with fewer bases, and so on. Parameters that do
not fit are dropped or truncated with a sentence saying so; nothing is silently reshaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .frames import Dataset

# Coefficient vectors that the forward zero-pads / truncates to the model's bases.
_COEFFICIENTS = {"FLAME": {"shape": "num_shape", "expr": "num_expression"},
                 "SMPLX": {"betas": "num_shape", "expression": "num_expression"}}  # fmt: skip
_UNSUPPORTED = {"dynamic_offset": "per-frame dynamic_offset is not used by the rig"}
EXPECTED_JOINTS = {"FLAME": 5, "SMPLX": 55}
FLAME_VERTICES = 5023


@dataclass
class Fit:
    params: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # left out: the report says so
    notes: list[str] = field(default_factory=list)  # harmless adjustments


def fit_to_model(dataset: Dataset, model: Any) -> Fit:
    """Parameters of ``dataset`` restricted to what ``model`` (a RigModel) can use."""
    fit = Fit()
    family = dataset.rig_family
    if dataset.rig_status != "ok" or family is None:
        fit.skipped.append(f"rig: {dataset.rig_message or 'the dataset has no rig parameters'}")
        return fit
    if model.family != family:
        fit.skipped.append(f"rig: the dataset is {family} but the model is {model.family}")
        return fit
    if model.num_joints != EXPECTED_JOINTS[family]:
        want = EXPECTED_JOINTS[family]
        fit.skipped.append(f"rig: a {family} model has {want} joints, this one has {model.num_joints}")
        return fit
    dropped: set[str] = set()
    for timestep, params in dataset.rig_params.items():
        kept: dict[str, np.ndarray] = {}
        for key, value in params.items():
            if key in _UNSUPPORTED:
                dropped.add(key)
                continue
            if key == "static_offset" and value.shape[0] != model.num_vertices:
                if not (model.num_vertices == FLAME_VERTICES and value.shape[0] > FLAME_VERTICES):
                    dropped.add(key)
                    continue
                # FLAME 2023 as GaussianAvatars uses it: teeth vertices appended after FLAME's own.
                note = f"static_offset: the {value.shape[0] - FLAME_VERTICES} vertices beyond FLAME's are cut"
                if note not in fit.notes:
                    fit.notes.append(note)
            kept[key] = value
        fit.params[timestep] = kept
    for key in sorted(dropped):
        if key == "static_offset":
            some = next(p[key] for p in dataset.rig_params.values() if key in p)
            fit.skipped.append(
                f"static_offset ({some.shape[0]} vertices) does not fit the model's {model.num_vertices} "
                "vertices: left out"
            )
        else:
            fit.skipped.append(f"{key}: {_UNSUPPORTED[key]}")
    for key, attr in _COEFFICIENTS[family].items():
        size = int(getattr(model, attr))
        lengths = {p[key].shape[0] for p in dataset.rig_params.values() if key in p}
        longest = max(lengths, default=0)
        if longest > size:
            used = any(np.any(p[key][size:] != 0) for p in dataset.rig_params.values() if key in p)
            if used:
                fit.notes.append(f"{key}: {longest} coefficients, the model has {size}: the rest are ignored")
    return fit
