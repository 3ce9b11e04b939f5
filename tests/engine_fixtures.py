"""Generated Gaussians, driver meshes and a tiny armature rig for the engine and splat tests."""

from __future__ import annotations

import importlib
import math
from types import ModuleType
from typing import Any

import numpy as np

from tests.blender_helpers import ADDON_MODULE


def addon_module(name: str) -> ModuleType:
    """A module of the enabled extension (``engine.blender.splat_data``...): the Blender-side code
    uses relative imports beyond ``engine``, so it is imported under the add-on's package."""
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


def random_gaussian_fields(count: int, degree: int, seed: int, spread: float = 0.3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sh = np.zeros((count, (degree + 1) ** 2, 3), dtype=np.float32)
    sh[:, 0] = rng.normal(0.0, 1.0, (count, 3))
    if degree:
        sh[:, 1:] = rng.normal(0.0, 0.25, (count, (degree + 1) ** 2 - 1, 3))
    return {
        "means": rng.normal(0.0, spread, (count, 3)).astype(np.float32),
        "quats": rng.normal(size=(count, 4)).astype(np.float32),
        "log_scales": np.log(rng.uniform(0.02, 0.1, (count, 3))).astype(np.float32),
        "opacity_logits": rng.normal(0.5, 1.5, count).astype(np.float32),
        "sh": sh,
    }


def static_arrays(count: int = 200, degree: int = 0, seed: int = 0, spread: float = 0.3) -> Any:
    splat_data = addon_module("engine.blender.splat_data")
    return splat_data.SplatArrays(**random_gaussian_fields(count, degree, seed, spread))


def grid_mesh(n: int = 6, size: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A bumpy (n x n)-vertex grid in the XY plane: vertices (V,3), triangles (F,3)."""
    xs, ys = np.meshgrid(np.linspace(-size, size, n), np.linspace(-size, size, n))
    z = 0.15 * np.sin(2.0 * xs) * np.cos(1.5 * ys)
    vertices = np.stack([xs.ravel(), ys.ravel(), z.ravel()], axis=1)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a = i * n + j
            faces += [[a, a + 1, a + n + 1], [a, a + n + 1, a + n]]
    return vertices, np.array(faces, dtype=np.int32)


def bound_arrays(
    num_faces: int,
    count: int = 300,
    degree: int = 1,
    rank: int = 0,
    num_expression: int = 0,
    num_pose_features: int = 0,
    seed: int = 1,
) -> Any:
    """Gaussians bound to random faces, with optional random low-rank dynamics."""
    splat_data = addon_module("engine.blender.splat_data")
    rng = np.random.default_rng(seed)
    fields = random_gaussian_fields(count, degree, seed)
    fields["log_scales"] = np.log(rng.uniform(0.1, 0.4, (count, 3))).astype(np.float32)
    arrays = splat_data.SplatArrays(
        **fields,
        parent_face=rng.integers(0, num_faces, count).astype(np.int32),
        offsets=rng.normal(0.0, 0.3, (count, 3)).astype(np.float32),
    )
    if rank:
        arrays.dyn_basis = rng.normal(0.0, 0.05, (count, rank, 14)).astype(np.float32)
        arrays.dyn_mix = rng.normal(0.0, 1.0, (rank, num_expression + num_pose_features)).astype(np.float32)
        arrays.dyn_num_expression = num_expression
        arrays.dyn_num_pose_features = num_pose_features
    return arrays


def assert_same_arrays(a: Any, b: Any) -> None:
    for name in (
        "means",
        "quats",
        "log_scales",
        "opacity_logits",
        "sh",
        "parent_face",
        "offsets",
        "dyn_basis",
        "shading_matrix",
        "shading_rest_normal",
    ):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)
    if a.dyn_mix is not None:
        np.testing.assert_array_equal(a.dyn_mix, b.dyn_mix)
        assert (a.dyn_num_expression, a.dyn_num_pose_features) == (
            b.dyn_num_expression,
            b.dyn_num_pose_features,
        )


def make_rig(name: str = "Rig", n: int = 7) -> tuple[Any, Any]:
    """A tiny rig: an armature (root + two bones along the grid) and a grid driver mesh with
    vertex groups, an Armature modifier and expression shape keys ``Exp000``/``Exp001``.
    Returns (armature object, driver mesh object), both linked to the scene."""
    import bpy

    vertices, faces = grid_mesh(n)
    mesh = bpy.data.meshes.new(name + "Mesh")
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    mesh.update()
    driver = bpy.data.objects.new(name + "Mesh", mesh)
    armature_data = bpy.data.armatures.new(name)
    armature = bpy.data.objects.new(name, armature_data)
    scene = bpy.context.scene
    scene.collection.objects.link(armature)
    scene.collection.objects.link(driver)
    bpy.context.view_layer.objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    root = armature_data.edit_bones.new("root")
    root.head, root.tail = (-1.0, 0.0, 0.0), (-0.6, 0.0, 0.0)
    left = armature_data.edit_bones.new("left")
    left.head, left.tail, left.parent = (-0.6, 0.0, 0.0), (0.0, 0.0, 0.0), root
    right = armature_data.edit_bones.new("right")
    right.head, right.tail, right.parent = (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), left
    bpy.ops.object.mode_set(mode="OBJECT")
    x = vertices[:, 0]
    weights = {
        "root": np.clip(-(x + 0.6) / 0.4, 0, 1),
        "left": np.clip(1 - np.abs(x + 0.3) / 0.5, 0, 1),
        "right": np.clip(x / 0.6, 0, 1),
    }
    for bone, w in weights.items():
        group = driver.vertex_groups.new(name=bone)
        for i, value in enumerate(w):
            if value > 0:
                group.add([i], float(value), "REPLACE")
    driver.parent = armature
    modifier = driver.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    driver.shape_key_add(name="Basis")
    for k in range(2):
        key = driver.shape_key_add(name=f"Exp{k:03d}")
        coords = vertices.copy()
        coords[:, 2] += 0.1 * (k + 1) * np.cos(3.0 * vertices[:, 0] + k)
        key.data.foreach_set("co", coords.astype(np.float32).ravel())
        key.slider_min, key.slider_max = -2.0, 2.0
    return armature, driver


def pose_rig(armature: Any, frame: int, angle_deg: float = 35.0) -> None:
    """Keys a bend of the rig's bones at frame."""
    for name, sign in (("left", 1.0), ("right", -1.0)):
        bone = armature.pose.bones[name]
        bone.rotation_mode = "XYZ"
        bone.rotation_euler = (0.0, 0.0, sign * math.radians(angle_deg))
        bone.keyframe_insert("rotation_euler", frame=frame)


def sphere_head_model(rings: int = 10, segments: int = 16, seed: int = 3) -> Any:
    """A small FLAME-format rig model (FLAME's five joints) whose mesh is a well-shaped UV sphere
    of radius 0.1 m: smooth skinning, regressor, shape/expression/pose-corrective bases."""
    from engine.rig.model import FLAME_JOINT_NAMES, RigModel

    rng = np.random.default_rng(seed)
    theta = np.linspace(0.15 * np.pi, 0.9 * np.pi, rings)  # from the top, open at both poles
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    radius = 0.1
    vertices = np.stack(
        [radius * np.sin(t) * np.cos(p), radius * np.cos(t) + 0.12, radius * np.sin(t) * np.sin(p)], -1
    )
    vertices = vertices.reshape(-1, 3)
    faces = []
    for i in range(rings - 1):
        for j in range(segments):
            a, b = i * segments + j, i * segments + (j + 1) % segments
            c, d = a + segments, b + segments
            faces += [[a, c, b], [b, c, d]]
    joints = np.array(
        [[0, 0, 0], [0, 0.04, 0], [0, 0.09, 0.02], [0.03, 0.15, 0.08], [-0.03, 0.15, 0.08]], float
    )
    parents = np.array([-1, 0, 1, 1, 1])
    d2 = ((vertices[:, None] - joints[None]) ** 2).sum(-1)
    weights = np.exp(-d2 / (2 * 0.05**2)) + 1e-9
    weights /= weights.sum(1, keepdims=True)
    regressor = np.zeros((5, len(vertices)))
    for j in range(5):
        near = np.argsort(d2[:, j])[:6]
        regressor[j, near] = 1.0 / 6.0

    def fields(count: int, amplitude: float) -> np.ndarray:
        centres = vertices[rng.integers(0, len(vertices), size=(count, 3))]
        bumps = np.exp(-((vertices[None, None] - centres[:, :, None]) ** 2).sum(-1) / (2 * 0.05**2))
        field = np.einsum("ckv,ckd->vdc", bumps, rng.normal(size=(count, 3, 3)))
        return amplitude * field / max(np.abs(field).max(), 1e-12)

    return RigModel(
        family="FLAME",
        v_template=vertices,
        faces=np.array(faces, dtype=np.int32),
        shape_dirs=fields(4, 0.01),
        expr_dirs=fields(5, 0.01),
        pose_dirs=fields(36, 0.004),
        joint_regressor=regressor,
        weights=weights,
        parents=parents,
        joint_names=FLAME_JOINT_NAMES,
        source_name="sphere-head-test",
        source_sha256="1" * 64,
    )
