"""``.gavatar`` files <-> Blender: a rig with the avatar's identity plus a splat object bound to
its driver mesh, and back.

``import_avatar(context, path)`` is what ``gavatar.import_avatar`` runs; other operators call it
directly (``rig=`` binds to an existing rig instead of building one, ``model=`` skips model-file
resolution). Everything is checked before anything is created (the file, the model's family,
checksum and mesh sizes, the binding's faces), and a failure after the rig was built removes
everything created, so nothing is ever imported half-way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy
import numpy as np
from bpy.types import Context, Object

from ..core.avatar import avatar_file
from ..core.avatar.avatar_file import Avatar, AvatarFileError
from ..core.avatar.binding import Binding, Dynamics
from ..core.avatar.gaussians import GaussianSet
from ..core.rig.model import RigModel
from ..engine.splats import data as splat_data
from ..engine.splats.data import SplatArrays
from ..engine.splats.driver_mesh import triangles
from ..engine.splats.runtime import SplatSource
from .rig import build, model_source, naming, pose_io, training_range
from .rig.model_source import ModelFiles
from .rig.parts import RigParts, find_rig
from .rig.rest import bake_rest_joints

IDENTITY_SHAPE_KEYS = ("shape", "betas")  # FLAME trackers say shape, SMPL-X says betas
_CREATED_KINDS = ("objects", "meshes", "armatures", "collections", "actions", "shape_keys")


class AvatarImportError(ValueError):
    """An avatar that cannot be imported (or exported) here; one sentence saying why."""


@dataclass
class ImportedAvatar:
    rig: RigParts
    splats: Object
    notes: list[str]


def _rig_header(avatar: Avatar) -> dict[str, Any]:
    rig = avatar.header.get("rig", {})
    return rig if isinstance(rig, dict) else {}


def check_fits(avatar: Avatar, parts: RigParts, label: str) -> None:
    """Raises AvatarImportError when the avatar was trained for another rig than parts."""
    mesh = parts.mesh.data
    assert isinstance(mesh, bpy.types.Mesh)
    try:
        avatar.check_rig(
            parts.family,
            num_vertices=len(mesh.vertices),
            num_faces=len(mesh.polygons),
            model_sha256=str(parts.info.model_sha256) or None,
            label=label,
        )
    except AvatarFileError as error:
        raise AvatarImportError(f"{error}; import it onto a matching rig or build a new one") from None


def _check_model(avatar: Avatar, model: RigModel, label: str) -> None:
    try:
        avatar.check_rig(
            model.family,
            num_vertices=model.num_vertices,
            num_faces=int(model.faces.shape[0]),
            model_sha256=model.source_sha256 or None,
            label=label,
        )
    except AvatarFileError as error:
        raise AvatarImportError(str(error)) from None


def load_model_for(avatar: Avatar, model_path: str, models: ModelFiles) -> tuple[RigModel, str]:
    """The rig model the avatar names: model_path, else the preference, else the free stand-in."""
    family = avatar.rig_family
    gender = str(_rig_header(avatar).get("gender", "neutral"))
    try:
        path = model_source.resolve_model_path(
            family, bpy.path.abspath(model_path), models.preference(family), gender, models.cache_dir
        )
        return model_source.load(family, path), str(path)
    except (model_source.ModelSourceError, ValueError, OSError) as error:
        raise AvatarImportError(f"cannot load the {family} model the avatar needs: {error}") from None


def _identity_betas(avatar: Avatar) -> np.ndarray | None:
    for key in IDENTITY_SHAPE_KEYS:
        if key in avatar.identity:
            return np.asarray(avatar.identity[key], dtype=np.float64).reshape(-1)
    return None


def _apply_identity(parts: RigParts, avatar: Avatar, model: RigModel | None, context: Context) -> list[str]:
    notes: list[str] = []
    betas = _identity_betas(avatar)
    if betas is not None:
        report = pose_io.write_pose(parts, {"betas": betas})
        notes += report.messages()
    offsets = avatar.identity.get("static_offset")
    if offsets is not None:
        count = len(parts.mesh.data.vertices)  # type: ignore[union-attr]
        if np.size(offsets) != 3 * count:
            raise AvatarFileError(
                f"the avatar's static_offset has {np.size(offsets)} values, not 3 for each of the rig's "
                f"{count} vertices"
            )
        regressor = model.joint_regressor if model is not None else None
        pose_io.set_static_offsets(parts, np.asarray(offsets).reshape(-1, 3), regressor)
    bake_rest_joints(parts, context)
    return notes


def splat_arrays(avatar: Avatar) -> SplatArrays:
    """The splat object's arrays for an avatar: rest means for display, the face-local binding,
    opacity and SH from the PLY, the dynamics and the normal shading."""
    g, b, d = avatar.gaussians, avatar.binding, avatar.dynamics
    arrays = SplatArrays(
        means=np.asarray(g.means, dtype=np.float32),
        quats=np.asarray(b.rotation, dtype=np.float32),
        log_scales=np.asarray(b.log_scale, dtype=np.float32),
        opacity_logits=np.asarray(g.opacity_logits, dtype=np.float32),
        sh=np.asarray(g.sh, dtype=np.float32),
        parent_face=np.asarray(b.parent_face, dtype=np.int32),
        offsets=np.asarray(b.offset, dtype=np.float32),
        dyn_basis=None if d is None else np.asarray(d.basis, dtype=np.float32),
        dyn_mix=None if d is None else np.asarray(d.mix, dtype=np.float32),
        dyn_num_expression=0 if d is None else d.num_expression,
        dyn_num_pose_features=0 if d is None else d.num_pose_features,
    )
    arrays.set_shading(avatar.shading)
    return arrays


def snapshot_data() -> dict[str, set[Any]]:
    return {kind: set(getattr(bpy.data, kind)) for kind in _CREATED_KINDS}


def remove_created(before: dict[str, set[Any]]) -> None:
    for kind in _CREATED_KINDS:
        store = getattr(bpy.data, kind)
        for block in set(store) - before[kind]:
            if kind != "shape_keys":  # keys go with their meshes
                store.remove(block)


def import_avatar(
    context: Context,
    filepath: str,
    *,
    rig: RigParts | None = None,
    model: RigModel | None = None,
    model_path: str = "",
    models: ModelFiles | None = None,
    name: str | None = None,
) -> ImportedAvatar:
    """Imports a .gavatar: onto ``rig`` when given (it must match), else onto a new rig built from
    ``model`` (or the model file the avatar names, found as gavatar.add_rig finds it, with the
    user's ``models`` settings; None: none set, the free stand-in).

    Raises AvatarImportError / AvatarFileError with one sentence; nothing is left behind then.
    """
    avatar = avatar_file.read_avatar(filepath)
    return import_loaded_avatar(
        context, avatar, Path(filepath).name, rig=rig, model=model, model_path=model_path, models=models,
        name=name, object_name=name or Path(filepath).stem,
    )  # fmt: skip


def import_loaded_avatar(
    context: Context,
    avatar: Avatar,
    label: str,
    *,
    rig: RigParts | None = None,
    model: RigModel | None = None,
    model_path: str = "",
    models: ModelFiles | None = None,
    name: str | None = None,
    object_name: str | None = None,
) -> ImportedAvatar:
    """``import_avatar`` of an Avatar already in memory: label names it in messages, name the new
    rig (None: the model's default), object_name the splat object (None: name, else label)."""
    if rig is not None:
        check_fits(avatar, rig, label)
    else:
        model_file = model_path if model is not None else ""  # where a given model came from
        if model is None:
            model, model_file = load_model_for(avatar, model_path, models or ModelFiles())
        _check_model(avatar, model, label)
    arrays = splat_arrays(avatar)
    before = snapshot_data()
    try:
        notes: list[str] = []
        if rig is None:
            assert model is not None
            rig = build.build_rig(model, context, name=name or "", model_path=model_file)
            notes += _apply_identity(rig, avatar, model, context)
        elif avatar.identity:
            notes += _apply_identity(rig, avatar, None, context)
        collection = rig.collection or context.scene.collection
        rig_header = _rig_header(avatar)
        obj = splat_data.create_splat_object(
            object_name or name or label,
            arrays,
            collection=collection,
            driver=rig.mesh,
            rig_info={key: str(rig_header.get(key, "")) for key in ("family", "model_name", "model_sha256")},
            identity=avatar.identity,
            header=avatar.header,
        )
        background = avatar.background
        splat_data.settings(obj).background = background
        training_range.apply_slider_ranges(rig)  # expression sliders within what was trained
    except BaseException:
        remove_created(before)
        raise
    return ImportedAvatar(rig=rig, splats=obj, notes=notes)


def active_rig_of(context: Context) -> RigParts | None:
    obj = context.active_object
    if obj is None:
        return None
    if splat_data.is_splat_object(obj):
        driver = splat_data.splat_driver(obj)
        return find_rig(driver) if driver is not None else None
    return find_rig(obj)


# ------------------------------------------------------------------------------------------ export


def rest_vertices(driver: Object) -> np.ndarray:
    """The driver mesh in the rest pose of its identity: the Basis plus the identity keys (Shape###,
    StaticOffset) at their current values; expression and pose-corrective keys at zero, no armature."""
    mesh = driver.data
    assert isinstance(mesh, bpy.types.Mesh)
    count = len(mesh.vertices)
    keys = mesh.shape_keys
    coords = np.empty(count * 3, dtype=np.float32)
    if keys is None:
        mesh.vertices.foreach_get("co", coords)
        return coords.reshape(count, 3).astype(np.float64)
    blocks = keys.key_blocks
    blocks[naming.BASIS_KEY].data.foreach_get("co", coords)
    basis = coords.reshape(count, 3).astype(np.float64)
    rest = basis.copy()
    shape_prefix = naming.shape_key(0)[:5]
    for block in blocks:
        if block.name == naming.STATIC_OFFSET_KEY or block.name.startswith(shape_prefix):
            if block.value:
                block.data.foreach_get("co", coords)
                rest += block.value * (coords.reshape(count, 3) - basis)
    return rest


def avatar_of(obj: Object) -> Avatar:
    """The Avatar a bound splat object holds (its stored header, the rig it is bound to)."""
    if not splat_data.is_splat_object(obj):
        raise AvatarImportError(f"'{obj.name}' is not a splat object")
    driver = splat_data.splat_driver(obj)
    source = SplatSource(obj)
    a = source.arrays
    if driver is None or a.parent_face is None or a.offsets is None:
        raise AvatarImportError(f"'{obj.name}' holds static splats; export them as a PLY instead")
    mesh = driver.data
    assert isinstance(mesh, bpy.types.Mesh)
    binding = Binding(a.parent_face, a.offsets, a.quats, a.log_scales)
    appearance = a.gaussians()
    rest = source.pose_cpu(rest_vertices(driver), None)
    gaussians = GaussianSet(rest.means, rest.quats, rest.log_scales, appearance.opacity_logits, appearance.sh)
    dynamics = None
    if a.dyn_basis is not None and a.dyn_mix is not None:
        dynamics = Dynamics(a.dyn_basis, a.dyn_mix, a.dyn_num_expression, a.dyn_num_pose_features)
    header = dict(splat_data.stored_header(obj))
    props = splat_data.settings(obj)
    parts = find_rig(driver)
    rig = dict(header.get("rig", {})) if isinstance(header.get("rig"), dict) else {}
    rig.update(
        {
            "family": parts.family if parts is not None else props.rig_family,
            "model_name": props.rig_model_name or rig.get("model_name", ""),
            "model_sha256": props.rig_model_sha256 or rig.get("model_sha256", ""),
            "num_vertices": len(mesh.vertices),
            "num_faces": len(triangles(mesh)),
        }
    )
    header["rig"] = rig
    header["background"] = list(props.background)
    identity = splat_data.stored_identity(obj)
    return Avatar(
        header=header, binding=binding, gaussians=gaussians, identity=identity, dynamics=dynamics,
        shading=a.shading(),
    )  # fmt: skip


def export_avatar(obj: Object, filepath: str) -> int:
    """Writes a bound splat object as a .gavatar (atomically); returns the number of Gaussians."""
    avatar = avatar_of(obj)
    avatar_file.write_avatar(filepath, avatar)
    return len(avatar)
