"""What the deformation reads from Blender each frame: the driver mesh as the depsgraph evaluated
it (armature, shape keys, any modifier), and the dynamics features (expression shape-key values and
pose-corrective features of the armature's bones).

Rig naming follows blender/rig (rig-blender): expression keys ``Exp000..`` on the driver
mesh, control bones named after the model's joints (order from the rig's ``gavatar_rig.joint_names``
when present, else the armature's bone order).
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np
from bpy.types import Depsgraph, Object

EXPRESSION_KEY_FORMAT = "Exp{:03d}"


class DriverMeshError(RuntimeError):
    """The driver mesh cannot carry the Gaussians this frame; the message says why."""


def triangles(mesh: bpy.types.Mesh) -> np.ndarray:
    """(F,3) vertex indices of a mesh whose faces are all triangles, in face order."""
    sizes = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("loop_total", sizes)
    if (sizes != 3).any():
        raise DriverMeshError(
            f"mesh '{mesh.name}' has {int((sizes != 3).sum())} faces that are not triangles"
        )
    corners = np.empty(len(mesh.loops), dtype=np.int32)
    mesh.loops.foreach_get("vertex_index", corners)
    starts = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("loop_start", starts)
    return corners[starts[:, None] + np.arange(3)].astype(np.int32)


def evaluated_vertices(driver_eval: Object, expected_count: int) -> np.ndarray:
    """(V,3) float32 vertex positions of the evaluated driver mesh, in its object space."""
    mesh = driver_eval.data
    if not isinstance(mesh, bpy.types.Mesh):
        raise DriverMeshError(f"driver '{driver_eval.name}' is not a mesh")
    count = len(mesh.vertices)
    if count != expected_count:
        raise DriverMeshError(
            f"driver mesh '{driver_eval.name}' evaluates to {count} vertices, the binding needs "
            f"{expected_count}: a modifier changes its topology"
        )
    out = np.empty(count * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", out)
    return out.reshape(count, 3)


def driver_armature(driver: Object) -> Object | None:
    for modifier in driver.modifiers:
        target = getattr(modifier, "object", None)
        if modifier.type == "ARMATURE" and isinstance(target, Object):
            return target
    parent = driver.parent
    return parent if parent is not None and parent.type == "ARMATURE" else None


@dataclass
class _JointLayout:
    names: list[str]
    parents: np.ndarray  # (J,) index into names, -1 for roots
    rest_axes: np.ndarray  # (J,3,3) bone rest orientation B_j in armature space


def _joint_names(armature: Object) -> list[str]:
    rig = getattr(armature, "gavatar_rig", None)
    names = [item.name for item in getattr(rig, "joint_names", [])] if rig is not None else []
    bones = armature.data.bones  # type: ignore[union-attr]
    if names and all(name in bones for name in names):
        return names
    return [bone.name for bone in bones]


def _joint_layout(armature: Object) -> _JointLayout:
    names = _joint_names(armature)
    bones = armature.data.bones  # type: ignore[union-attr]
    index = {name: i for i, name in enumerate(names)}
    parents = np.full(len(names), -1, dtype=np.int64)
    axes = np.empty((len(names), 3, 3))
    for i, name in enumerate(names):
        bone = bones[name]
        parent = bone.parent
        while parent is not None and parent.name not in index:
            parent = parent.parent
        parents[i] = index[parent.name] if parent is not None else -1
        axes[i] = np.array(bone.matrix_local, dtype=np.float64)[:3, :3]
    return _JointLayout(names, parents, axes)


def pose_features(armature_eval: Object, layout: _JointLayout) -> np.ndarray:
    """(9*(J-1),) flattened (R_j - I) of every joint but the first, R_j in model axes relative to
    its parent: R_j = W_parent^T W_j with W_j = P_j B_j^T (pose-space and rest orientations)."""
    bones = armature_eval.pose.bones  # type: ignore[union-attr]
    posed = np.array([np.array(bones[name].matrix, dtype=np.float64)[:3, :3] for name in layout.names])
    world = np.einsum("jab,jcb->jac", posed, layout.rest_axes)
    local = world.copy()
    has_parent = layout.parents >= 0
    local[has_parent] = np.einsum("jba,jbc->jac", world[layout.parents[has_parent]], world[has_parent])
    return (local[1:] - np.eye(3)).reshape(-1)


class FeatureReader:
    """Reads the dynamics features [expression (E), pose features (P)] of one driver mesh."""

    def __init__(self, driver: Object, num_expression: int, num_pose_features: int) -> None:
        self.num_expression = num_expression
        self.num_pose_features = num_pose_features
        mesh = driver.data
        assert isinstance(mesh, bpy.types.Mesh)
        keys = mesh.shape_keys
        names = [block.name for block in keys.key_blocks] if keys is not None else []
        position = {name: i for i, name in enumerate(names)}
        self._expression_slots = np.array(
            [position.get(EXPRESSION_KEY_FORMAT.format(i), -1) for i in range(num_expression)], dtype=np.int64
        )
        self._num_keys = len(names)
        self._armature = driver_armature(driver) if num_pose_features else None
        self._layout = _joint_layout(self._armature) if self._armature is not None else None

    def read(self, driver: Object, depsgraph: Depsgraph) -> np.ndarray:
        features = np.zeros(self.num_expression + self.num_pose_features, dtype=np.float64)
        keys = driver.data.shape_keys  # type: ignore[union-attr]
        if self.num_expression and keys is not None and self._num_keys:
            values = np.zeros(self._num_keys, dtype=np.float32)
            keys.evaluated_get(depsgraph).key_blocks.foreach_get("value", values)
            found = self._expression_slots >= 0
            features[: self.num_expression][found] = values[self._expression_slots[found]]
        if self._armature is not None and self._layout is not None:
            pose = pose_features(self._armature.evaluated_get(depsgraph), self._layout)
            n = min(len(pose), self.num_pose_features)
            features[self.num_expression : self.num_expression + n] = pose[:n]
        return features
