"""Rig model loading and the dataset's tracked parameters as rig inputs, with trainer errors.

The mapping of parameter dictionaries to forward() inputs is core/rig/params.py; this module
only stacks it over timesteps and turns its errors into the trainer's exit codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.errors import DatasetError, RigModelError

FAMILY = {"flame": "FLAME", "smplx": "SMPLX"}


def load_rig(path: str, rig: str | None = None):
    """The RigModel of a FLAME / SMPL-X file (or a stand-in), checked against ``--rig``."""
    from core.rig.errors import ModelFileError
    from core.rig.loaders import load_model

    if not str(path):
        raise RigModelError("no rig model file given (--model)")
    p = Path(path)
    if not p.is_file():
        raise RigModelError(
            f"rig model file {p} does not exist",
            "pass a FLAME / SMPL-X model file, or a stand-in made by `python -m training.standins`",
        )
    try:
        return load_model(p, family=FAMILY[rig] if rig else None)
    except ModelFileError as exc:
        raise RigModelError(str(exc)) from None


def identity_inputs(model, identity: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """(betas (S,), vertex offsets (V,3) or None) of an identity dict (``shape``/``betas``,
    ``static_offset``), fitted to the model's sizes."""
    from core.rig.errors import ParamsError
    from core.rig.params import params_from_dict

    if not identity:
        return np.zeros(model.num_shape), None
    try:
        params = params_from_dict(model, dict(identity))
    except ParamsError as exc:
        raise DatasetError(f"the identity parameters do not fit the rig model: {exc}") from None
    offsets = None if params.vertex_offsets is None else params.vertex_offsets[0]
    return params.betas, offsets


def rig_inputs(dataset, timesteps: Sequence[int], model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expression (T,E), pose (T,J,3), transl (T,3)) of the dataset's tracked timesteps."""
    from core.rig.errors import ParamsError
    from core.rig.params import params_from_dict

    expr, pose, transl = [], [], []
    for t in timesteps:
        params = dataset.rig_params.get(int(t))
        if params is None:
            raise DatasetError(f"{dataset.root}: no rig parameters for timestep {t}")
        try:
            inputs = params_from_dict(model, params)
        except ParamsError as exc:
            raise DatasetError(
                f"{dataset.root}: rig parameters of timestep {t} do not fit the model: {exc}"
            ) from None
        expr.append(inputs.expression[0])
        pose.append(inputs.pose[0])
        transl.append(inputs.transl[0])
    return np.stack(expr), np.stack(pose), np.stack(transl)
