"""Entry points the dataset import looks for (blender/datasets/rig.py): build a rig from a
model and key per-frame dataset parameters on it. Thin wrappers over blender/rig."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import bpy
from bpy.types import Collection, Context, Object

from ...core.rig.model import RigModel
from . import build, params_io
from .parts import find_rig


def add_rig(model: RigModel, collection: Collection | None = None, context: Context | None = None) -> Object:
    """A rig for model (in a new collection under collection); returns its armature."""
    return build.build_rig(model, context or bpy.context, parent_collection=collection).armature


def key_parameters(rig: Object, frames: Mapping[int, Mapping[str, Any]]) -> list[str]:
    """Keys {frame: dataset parameter dict} on the rig; returns what could not be applied."""
    parts = find_rig(rig)
    if parts is None:
        raise ValueError(f"'{rig.name}' is not part of a Gaussian Avatar rig")
    return params_io.key_frames(parts, frames).messages()
