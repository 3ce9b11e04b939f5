"""Per-frame deformation in Blender: the dynamics features read from the rig, and the GPU binding
(compute shaders) against core/avatar/binding.py on the depsgraph-evaluated driver mesh."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from core.avatar import binding
from core.rotations import axis_angle_to_quaternion, quaternion_to_matrix
from tests.fixtures.engine import addon_module, bound_arrays, sphere_head_model


@pytest.fixture
def rig(clean_scene: None):
    build = addon_module("blender.rig.build")
    pose_io = addon_module("blender.rig.pose_io")
    model = sphere_head_model()
    parts = build.build_rig(model, bpy.context)
    rng = np.random.default_rng(11)
    pose_io.write_pose(parts, {"pose": rng.normal(0.0, 0.4, (5, 3)), "expression": rng.normal(0.0, 1.0, 5)})
    return parts, model


def test_dynamics_features_are_the_rigs_expression_and_pose_correctives(rig) -> None:
    parts, _model = rig
    driver_mesh = addon_module("engine.splats.driver_mesh")
    pose_io = addon_module("blender.rig.pose_io")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    reader = driver_mesh.FeatureReader(parts.mesh, 3, 36)
    features = reader.read(parts.mesh, depsgraph)
    state = pose_io.read_pose(parts, depsgraph)
    rotations = quaternion_to_matrix(axis_angle_to_quaternion(state["pose"]))
    np.testing.assert_allclose(features[:3], state["expression"][:3], atol=1e-6)
    np.testing.assert_allclose(features[3:], (rotations[1:] - np.eye(3)).ravel(), atol=1e-5)


def test_gpu_binding_matches_numpy_on_the_evaluated_mesh(rig) -> None:
    parts, model = rig
    splat_data = addon_module("engine.splats.data")
    runtime = addon_module("engine.splats.runtime")
    gpu_arrays = addon_module("engine.gpu.arrays")
    arrays = bound_arrays(num_faces=len(model.faces), count=700, degree=1, rank=3, num_expression=5,
                          num_pose_features=36)  # fmt: skip
    obj = splat_data.create_splat_object("Avatar", arrays, driver=parts.mesh)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    addon_module("engine.gpu.context").ensure_gpu_context()
    state = runtime.SplatObjectState(obj)
    state.deform(depsgraph, "GPU")
    count = len(arrays.means)

    def read(name: str) -> np.ndarray:
        return gpu_arrays.read(state.data.world[name])[: count * 4].reshape(count, 4)

    expected = runtime.posed_gaussians(obj, depsgraph)
    np.testing.assert_allclose(read("world_mean")[:, :3], expected.means, atol=2e-6)
    opacity = 1.0 / (1.0 + np.exp(-expected.opacity_logits.astype(np.float64)))
    np.testing.assert_allclose(read("world_mean")[:, 3], opacity, atol=1e-6)
    quats = read("world_rotation")
    unit = expected.quats / np.linalg.norm(expected.quats, axis=1, keepdims=True)
    np.testing.assert_allclose(np.abs(np.sum(quats * unit, axis=1)), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.log(read("world_scale")[:, :3]), expected.log_scales, atol=1e-5)
    np.testing.assert_allclose(read("world_dc")[:, :3], expected.sh[:, 0], atol=1e-5)
    # And the dynamics really moved something.
    static = binding.bind(
        binding.face_frames(runtime.SplatSource(obj).vertices(depsgraph), model.faces),
        binding.Binding(arrays.parent_face, arrays.offsets, arrays.quats, arrays.log_scales),
    )
    assert np.abs(static.means - expected.means).max() > 1e-4


def test_topology_changing_modifier_is_reported(rig) -> None:
    parts, model = rig
    splat_data = addon_module("engine.splats.data")
    runtime = addon_module("engine.splats.runtime")
    driver_mesh = addon_module("engine.splats.driver_mesh")
    obj = splat_data.create_splat_object(
        "Avatar", bound_arrays(num_faces=len(model.faces)), driver=parts.mesh
    )
    parts.mesh.modifiers.new("Subdivide", "SUBSURF")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    with pytest.raises(driver_mesh.DriverMeshError, match="a modifier changes its topology"):
        runtime.posed_gaussians(obj, depsgraph)
