"""``Object.gavatar_arkit`` (on a rig's armature): the ARKit mapping table, saved with the .blend.

One entry per ARKit name (``name``) with sparse coefficients (expression index, value): the
expression coefficients that ARKit shape at weight 1 becomes. An empty table means "map by name"
(rigs whose expressions carry ARKit names). Reading, writing and fitting the table from shape keys
live here; the maths (least squares) is core/motion/arkit_mapping.py.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
)
from bpy.types import Object, PropertyGroup

from ...core.motion import arkit_mapping
from ...core.motion.arkit import ARKIT_NAMES, canonical_name
from ...engine.registrar import class_registrar
from ..rig import naming
from ..rig.parts import RigParts
from .errors import AnimateError

PRUNE = 1e-7  # coefficients smaller than this are not stored


def _is_armature(_self: PropertyGroup, obj: Object) -> bool:
    return obj.type == "ARMATURE"


class GAVATAR_ArkitCoefficient(PropertyGroup):
    index: IntProperty(name="Expression", description="Index of the rig's expression (Exp###)", min=0)  # type: ignore[valid-type]
    value: FloatProperty(name="Weight", description="Coefficient at ARKit weight 1", default=1.0)  # type: ignore[valid-type]


class GAVATAR_ArkitEntry(PropertyGroup):
    """One ARKit shape (``name``) and the expression coefficients it becomes."""

    coefficients: CollectionProperty(type=GAVATAR_ArkitCoefficient)  # type: ignore[valid-type]
    active_coefficient: IntProperty(name="Active Coefficient")  # type: ignore[valid-type]


class GAVATAR_ArkitMap(PropertyGroup):
    entries: CollectionProperty(type=GAVATAR_ArkitEntry)  # type: ignore[valid-type]
    active_entry: IntProperty(name="Active ARKit Shape")  # type: ignore[valid-type]
    source: PointerProperty(  # type: ignore[valid-type]
        name="Fit From",
        description="A rig with ARKit-named expressions on the same mesh topology, to fit the table from",
        type=Object,
        poll=_is_armature,
    )
    ridge: FloatProperty(  # type: ignore[valid-type]
        name="Damping",
        description="Ridge damping of the least-squares fit, relative to the basis' scale (0: plain)",
        default=0.0,
        min=0.0,
        soft_max=0.1,
        precision=4,
    )
    fit_error: FloatProperty(name="Worst Fit Error", description="Largest relative residual of the last fit")  # type: ignore[valid-type]
    show_map: BoolProperty(name="Mapping Table", description="Show the ARKit mapping table")  # type: ignore[valid-type]


def settings(armature: Object) -> Any:
    return armature.gavatar_arkit  # type: ignore[attr-defined]


def has_table(armature: Object) -> bool:
    return any(len(entry.coefficients) for entry in settings(armature).entries)


def read_table(armature: Object, num_expression: int) -> tuple[np.ndarray, list[str]]:
    """(52, E) table and warnings (entries that are not ARKit names, indices past the rig's keys)."""
    table = np.zeros((len(ARKIT_NAMES), num_expression))
    warnings: list[str] = []
    for entry in settings(armature).entries:
        name = canonical_name(entry.name)
        if name is None:
            if len(entry.coefficients):
                warnings.append(f"mapping entry '{entry.name}' is not an ARKit name and is skipped")
            continue
        row = ARKIT_NAMES.index(name)
        for coefficient in entry.coefficients:
            if coefficient.index >= num_expression:
                warnings.append(
                    f"mapping '{entry.name}' -> Exp{coefficient.index:03d} is past the rig's "
                    f"{num_expression} expressions and is skipped"
                )
                continue
            table[row, coefficient.index] += coefficient.value
    return table, warnings


def write_table(armature: Object, table: np.ndarray) -> int:
    """Replaces the table with (52, E) ``table`` (sparse: tiny values dropped); returns the count kept."""
    state = settings(armature)
    state.entries.clear()
    kept = 0
    for row, name in enumerate(ARKIT_NAMES):
        entry = state.entries.add()
        entry.name = name
        for index in np.flatnonzero(np.abs(table[row]) > PRUNE):
            item = entry.coefficients.add()
            item.index = int(index)
            item.value = float(table[row, index])
            kept += 1
    state.active_entry = min(state.active_entry, len(state.entries) - 1)
    return kept


def ensure_entries(armature: Object) -> None:
    """All 52 ARKit names present (empty), so the table can be edited by hand."""
    state = settings(armature)
    have = {entry.name for entry in state.entries}
    for name in ARKIT_NAMES:
        if name not in have:
            state.entries.add().name = name


def expression_names(parts: RigParts) -> list[str]:
    return [item.name for item in parts.info.expression_names]


def expression_basis(parts: RigParts) -> np.ndarray:
    """(V, 3, E) the rig's expression shape keys minus the Basis (model coordinates, weight 1)."""
    mesh = parts.mesh.data
    assert isinstance(mesh, bpy.types.Mesh)
    keys = mesh.shape_keys
    count = int(parts.info.num_expression)
    v = len(mesh.vertices)
    if keys is None or count == 0:
        raise AnimateError(f"'{parts.armature.name}' has no expression shape keys.")
    blocks = keys.key_blocks
    co = np.empty(v * 3, dtype=np.float32)
    blocks[naming.BASIS_KEY].data.foreach_get("co", co)
    basis = co.reshape(v, 3).astype(np.float64)
    out = np.zeros((v, 3, count))
    for i in range(count):
        block = blocks.get(naming.expression_key(i))
        if block is None:
            continue
        block.data.foreach_get("co", co)
        out[:, :, i] = co.reshape(v, 3) - basis
    return out


def fit_from_rig(target: RigParts, source: RigParts, ridge: float = 0.0) -> arkit_mapping.Fit:
    """Least-squares table for target from source's ARKit-named expression keys (same topology)."""
    names = expression_names(source)
    if not arkit_mapping.name_map(names):
        raise AnimateError(f"'{source.armature.name}' has no expressions named after ARKit shapes.")
    src_mesh, tgt_mesh = source.mesh.data, target.mesh.data
    assert isinstance(src_mesh, bpy.types.Mesh) and isinstance(tgt_mesh, bpy.types.Mesh)
    if len(src_mesh.vertices) != len(tgt_mesh.vertices):
        raise AnimateError(
            f"'{source.armature.name}' has {len(src_mesh.vertices)} vertices and '{target.armature.name}' "
            f"{len(tgt_mesh.vertices)}: a fit from shapes needs the same mesh topology."
        )
    try:
        return arkit_mapping.fit_from_shapes(expression_basis(source), names, expression_basis(target), ridge)
    except ValueError as exc:
        raise AnimateError(str(exc)) from None


_register_classes, _unregister_classes = class_registrar(
    (GAVATAR_ArkitCoefficient, GAVATAR_ArkitEntry, GAVATAR_ArkitMap)
)


def register() -> None:
    _register_classes()
    bpy.types.Object.gavatar_arkit = PointerProperty(type=GAVATAR_ArkitMap)  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    del bpy.types.Object.gavatar_arkit  # type: ignore[attr-defined]
    _unregister_classes()
