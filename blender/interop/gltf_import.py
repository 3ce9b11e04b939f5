"""A glTF + sidecar pair (written by gltf_export.py) back into Blender: Blender's glTF importer
rebuilds the armature, the driver mesh with its shape keys and the animation; the sidecar's
Gaussians are bound to that mesh again, after checking it carries them as exported (its triangles,
in order, place the binding on the sidecar's rest Gaussians; vertex indices may differ, since glTF
drops loose vertices and splits vertices along hard edges). The armature learns the rig's control
joints so the avatar's dynamics read the same pose features. Nothing is left behind when a check fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from bpy.types import Context, Object

from ...core.avatar import avatar_file
from ...core.avatar.avatar_file import Avatar
from ...core.avatar.binding import bind, face_frames
from ...core.interop.errors import InteropError
from ...core.interop.gltf_sidecar import GltfLink, faces_checksum, sidecar_path
from ...engine.splats import data as splat_data
from ...engine.splats.driver_mesh import DriverMeshError, driver_armature, triangles
from .. import avatar_io as avatar_import
from ..rig.parts import rig_info

IMPORT_OPTIONS = {"bone_heuristic": "BLENDER", "disable_bone_shape": True, "merge_vertices": False}


@dataclass
class GltfImportResult:
    splats: Object
    mesh: Object
    armature: Object
    seconds: float


def _new_objects(before: set[Object]) -> list[Object]:
    return [obj for obj in bpy.data.objects if obj not in before]


def _find_mesh(created: list[Object], link: GltfLink) -> Object:
    """The imported driver mesh: a mesh of the sidecar's triangle count, the node name preferred.
    Its vertex count may differ (glTF drops loose vertices and splits vertices along hard edges)."""
    meshes = [o for o in created if o.type == "MESH" and len(o.data.polygons) == link.num_faces]  # type: ignore[union-attr]
    meshes.sort(key=lambda o: (not o.name.startswith(link.mesh_node), o.name))
    if not meshes:
        raise InteropError(
            f"the glTF holds no mesh of {link.num_faces} triangles (the driver mesh '{link.mesh_node}')"
        )
    return meshes[0]


def _check_mesh(mesh_obj: Object, avatar: Avatar, link: GltfLink, label: str) -> None:
    """The Gaussians bound to the imported mesh at rest must be the sidecar's rest Gaussians: the
    same triangles in the same order with the same corner order, whatever became of the vertices."""
    mesh = mesh_obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    try:
        faces = triangles(mesh)
    except DriverMeshError as exc:
        raise InteropError(f"{label}: {exc}") from None
    same_indices = faces_checksum(faces) == link.faces_sha256
    rest = avatar_import.rest_vertices(mesh_obj)
    means = bind(face_frames(rest, faces), avatar.binding).means
    expected = np.asarray(avatar.gaussians.means, dtype=np.float64)
    extent = float(np.ptp(expected, axis=0).max()) if len(expected) else 1.0
    error = float(np.abs(means - expected).max()) if len(expected) else 0.0
    if error > 1e-5 * max(extent, 1e-3):
        order = "the same triangles" if same_indices else "other triangles, or in another order"
        raise InteropError(
            f"{label}: the imported mesh does not carry the Gaussians as exported ({order}; rest "
            f"positions differ by up to {error:.3g}); the glTF or its sidecar was changed"
        )


def _tidy(created: list[Object], mesh_obj: Object, link: GltfLink) -> None:
    """Drop the empty the importer leaves for the skinned mesh's node, and give the mesh its name."""
    for obj in created:
        if obj.type == "EMPTY" and obj.name.startswith(link.mesh_node) and not obj.children:
            bpy.data.objects.remove(obj)
    if link.mesh_node not in bpy.data.objects:
        mesh_obj.name = link.mesh_node


def _restore_key_ranges(mesh_obj: Object, link: GltfLink) -> None:
    keys = mesh_obj.data.shape_keys  # type: ignore[union-attr]
    if keys is None:
        return
    for block in keys.key_blocks:
        low_high = link.key_ranges.get(block.name)
        if low_high is not None:
            block.slider_min, block.slider_max = -10.0, 10.0  # widest first: min must stay below max
            block.slider_min, block.slider_max = low_high


def _activate_key_animation(mesh_obj: Object) -> None:
    """Blender's importer makes the first glTF animation active and leaves the others as NLA tracks:
    the shape-key weights (their own glTF animation) become the keys' active action again."""
    keys = mesh_obj.data.shape_keys  # type: ignore[union-attr]
    anim = keys.animation_data if keys is not None else None
    if anim is None or anim.action is not None:
        return
    for track in list(anim.nla_tracks):
        strips = list(track.strips)
        if len(strips) == 1 and strips[0].action is not None:
            action = strips[0].action
            anim.nla_tracks.remove(track)
            anim.action = action
            slots = [slot for slot in action.slots if slot.target_id_type == "KEY"]
            if slots:
                anim.action_slot = slots[0]
            return


def import_gltf_avatar(context: Context, filepath: str | Path) -> GltfImportResult:
    """Imports ``filepath`` (.glb/.gltf) and its sidecar; raises InteropError / AvatarFileError."""
    started = time.perf_counter()
    path = Path(filepath)
    if not path.is_file():
        raise InteropError(f"'{path}' does not exist")
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise InteropError(f"'{path.name}' has no sidecar '{sidecar.name}' beside it (the Gaussians)")
    avatar = avatar_file.read_avatar(sidecar)
    link = GltfLink.from_header(avatar.header, sidecar.name)
    arrays = avatar_import.splat_arrays(avatar)  # checked before anything is created
    before_objects = set(bpy.data.objects)
    before = avatar_import.snapshot_data()
    try:
        result = bpy.ops.import_scene.gltf(filepath=str(path), **IMPORT_OPTIONS)  # type: ignore[arg-type]
        if result != {"FINISHED"}:
            raise InteropError(f"Blender's glTF importer did not finish ({result})")
        created = _new_objects(before_objects)
        mesh_obj = _find_mesh(created, link)
        _check_mesh(mesh_obj, avatar, link, path.name)
        armature = driver_armature(mesh_obj)
        if armature is None:
            raise InteropError(f"{path.name}: the imported driver mesh is not skinned to an armature")
        _tidy(created, mesh_obj, link)
        _restore_key_ranges(mesh_obj, link)
        _activate_key_animation(mesh_obj)
        bones = armature.data.bones  # type: ignore[union-attr]
        if all(name in bones for name in link.joint_names):
            info = rig_info(armature)
            info.joint_names.clear()
            for name in link.joint_names:
                info.joint_names.add().name = name
        collection = mesh_obj.users_collection[0] if mesh_obj.users_collection else context.scene.collection
        header = dict(avatar.header)
        rig = header.get("rig", {})
        splats = splat_data.create_splat_object(
            link.splat_name,
            arrays,
            collection=collection,
            driver=mesh_obj,
            rig_info={key: str(rig.get(key, "")) for key in ("family", "model_name", "model_sha256")},
            identity=avatar.identity,
            header=header,
        )
        splat_data.settings(splats).background = avatar.background
        scene = context.scene
        scene.frame_start, scene.frame_end = link.frame_start, link.frame_end
        if link.fps > 0:
            scene.render.fps = max(1, round(link.fps))
            scene.render.fps_base = scene.render.fps / link.fps
    except BaseException:
        avatar_import.remove_created(before)
        raise
    return GltfImportResult(splats, mesh_obj, armature, time.perf_counter() - started)
