"""An avatar with its rig for engines: the driver mesh, armature, shape keys and animation as glTF
through Blender's own exporter, plus the Gaussians and binding in a sidecar ``.gavatar`` beside it
(core/interop/gltf_sidecar.py) that ``gltf_import`` reads back.

glTF cannot hold drivers: the rig's pose-corrective keys follow the bones through drivers, so the
export goes through a temporary copy of the driver mesh whose shape-key values are sampled from the
scene at every frame of the range (drivers, keyframes and all) and keyed linearly; bones are
sampled by the exporter. The copy takes the driver's name for the export and is removed afterwards,
leaving the user's scene as it was.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from bpy.types import Context, Object

from ...core.avatar import avatar_file
from ...core.interop.errors import InteropError
from ...core.interop.gltf_sidecar import GLTF_KEY, GltfLink, faces_checksum, sidecar_path
from ...engine.splats import data as splat_data
from ...engine.splats.driver_mesh import driver_armature, triangles
from .. import avatar_io as avatar_import
from ..rig import animation
from ..rig.parts import find_rig

EXPORT_OPTIONS = {
    "export_format": "GLB",
    "use_selection": True,
    "export_yup": True,
    "export_apply": False,
    "export_animations": True,
    "export_animation_mode": "SCENE",
    "export_force_sampling": True,
    "export_optimize_animation_size": False,
    "export_all_influences": True,
    "export_def_bones": False,
    "export_morph": True,
    "export_skins": True,
    "export_materials": "NONE",
    "export_extras": False,
}


@dataclass
class GltfExportResult:
    gltf: Path
    sidecar: Path
    frames: int
    num_gaussians: int
    seconds: float


def _sample_key_values(context: Context, driver: Object, frames: range) -> tuple[list[str], np.ndarray]:
    """(names, (T, K) values) of every shape key of the driver at each frame, as the scene shows them."""
    keys = driver.data.shape_keys  # type: ignore[union-attr]
    if keys is None:
        return [], np.zeros((len(frames), 0))
    names = [block.name for block in keys.key_blocks]
    values = np.zeros((len(frames), len(names)), dtype=np.float32)
    scene = context.scene
    for t, frame in enumerate(frames):
        scene.frame_set(frame)
        keys.evaluated_get(context.evaluated_depsgraph_get()).key_blocks.foreach_get("value", values[t])
    return names, values


def _baked_copy(
    context: Context, driver: Object, names: list[str], values: np.ndarray, frames: range
) -> Object:
    """A copy of the driver mesh without drivers, its shape keys keyed at every frame."""
    copy = driver.copy()
    copy.data = driver.data.copy()
    collection = driver.users_collection[0] if driver.users_collection else context.scene.collection
    collection.objects.link(copy)
    keys = copy.data.shape_keys  # type: ignore[union-attr]
    if keys is not None:
        keys.animation_data_clear()
        action = animation.ensure_action(keys, f"{driver.name} gltf keys")
        numbers = np.array(list(frames), dtype=np.float64)
        for i, name in enumerate(names):
            if i == 0:
                continue  # the Basis has no weight
            fcurve = animation.ensure_fcurve(keys, action, f'key_blocks["{name}"].value', 0, "")
            animation.set_keys(fcurve, numbers, values[:, i].astype(np.float64))
    return copy


def _remove_copy(copy: Object) -> None:
    mesh = copy.data
    keys = mesh.shape_keys if isinstance(mesh, bpy.types.Mesh) else None
    action = keys.animation_data.action if keys is not None and keys.animation_data else None
    bpy.data.objects.remove(copy)
    if isinstance(mesh, bpy.types.Mesh) and mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    if action is not None and action.users == 0:
        bpy.data.actions.remove(action)


def _key_ranges(driver: Object) -> dict[str, list[float]]:
    keys = driver.data.shape_keys  # type: ignore[union-attr]
    if keys is None:
        return {}
    return {block.name: [block.slider_min, block.slider_max] for block in keys.key_blocks}


def _control_joints(armature: Object) -> list[str]:
    """The rig's joints in model order (the bones the dynamics read), else every bone."""
    parts = find_rig(armature)
    if parts is not None:
        return list(parts.joint_names)
    return [bone.name for bone in armature.data.bones]  # type: ignore[union-attr]


def export_gltf_avatar(
    context: Context, splat: Object, filepath: str | Path, frame_start: int, frame_end: int
) -> GltfExportResult:
    """Writes ``filepath`` (.glb) and the sidecar ``<stem>.gavatar`` beside it."""
    started = time.perf_counter()
    path = Path(filepath)
    if path.suffix.lower() != ".glb":
        raise InteropError(f"'{path.name}': the glTF is written as one binary .glb file")
    if frame_end < frame_start:
        raise InteropError(f"the frame range {frame_start}..{frame_end} is empty")
    if not path.parent.is_dir():
        raise InteropError(f"folder '{path.parent}' does not exist")
    driver = splat_data.splat_driver(splat) if splat_data.is_splat_object(splat) else None
    if driver is None:
        raise InteropError(f"'{splat.name}' is not an avatar bound to a driver mesh")
    armature = driver_armature(driver)
    if armature is None:
        raise InteropError(f"driver mesh '{driver.name}' has no armature")
    avatar = avatar_import.avatar_of(splat)  # read everything before touching the scene
    mesh = driver.data
    assert isinstance(mesh, bpy.types.Mesh)
    faces = triangles(mesh)
    scene = context.scene
    frames = range(frame_start, frame_end + 1)
    state = (scene.frame_current, scene.frame_start, scene.frame_end)
    selection = (list(context.selected_objects), context.view_layer.objects.active)
    names, values = _sample_key_values(context, driver, frames)
    original_name, original_mesh_name = driver.name, mesh.name
    copy = None
    temporary = path.with_name(f".{path.stem}.gavatar-tmp.glb")
    try:
        copy = _baked_copy(context, driver, names, values, frames)
        driver.name = original_name + ".gavatar-export"
        copy.name = original_name
        mesh.name, copy.data.name = original_mesh_name + ".gavatar-export", original_mesh_name
        for obj in context.selected_objects:
            obj.select_set(False)
        copy.select_set(True)
        armature.select_set(True)
        context.view_layer.objects.active = armature
        scene.frame_start, scene.frame_end = frame_start, frame_end
        result = bpy.ops.export_scene.gltf(filepath=str(temporary), **EXPORT_OPTIONS)  # type: ignore[arg-type]
        if result != {"FINISHED"}:
            raise InteropError(f"Blender's glTF exporter did not finish ({result})")
        gltf_name = copy.name
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        if copy is not None:
            _remove_copy(copy)
        driver.name, mesh.name = original_name, original_mesh_name
        scene.frame_start, scene.frame_end = state[1], state[2]
        scene.frame_set(state[0])
        for obj in context.selected_objects:
            obj.select_set(False)
        for obj in selection[0]:
            obj.select_set(True)
        context.view_layer.objects.active = selection[1]
    link = GltfLink(
        file=path.name,
        mesh_node=gltf_name,
        armature_node=armature.name,
        joint_names=_control_joints(armature),
        faces_sha256=faces_checksum(faces),
        num_vertices=len(mesh.vertices),
        num_faces=len(faces),
        frame_start=frame_start,
        frame_end=frame_end,
        fps=scene.render.fps / scene.render.fps_base,
        splat_name=splat.name,
        shape_keys=names,
        key_ranges=_key_ranges(driver),
    )
    avatar.header[GLTF_KEY] = link.to_header()
    sidecar = sidecar_path(path)
    try:
        avatar_file.write_avatar(sidecar, avatar)  # atomic; then the glTF takes its place
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return GltfExportResult(path, sidecar, len(frames), len(avatar), time.perf_counter() - started)
