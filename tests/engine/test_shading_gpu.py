"""Normal shading in Blender (core/avatar/shading.py): an imported avatar's SH DC follows its parent
faces' normals on the CPU and GPU paths exactly as the numpy reference, adds nothing at rest, keeps
through a .blend save/reload and an export, and broken shading arrays are reported, not crashed on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import bpy
import numpy as np
import pytest

from core.avatar import avatar_file, binding
from core.avatar.shading import Shading, face_normals
from core.rig import lbs, loaders
from tests.blender.test_avatar_import import NUM_EXPRESSION, NUM_SHAPE, make_avatar
from tests.fixtures.engine import addon_module, assert_same_arrays, bound_arrays, grid_mesh
from tests.fixtures.files import rig_files

# The pose that turns the faces: global, neck and jaw rotations of the FLAME rig (axis-angle).
POSE = np.array([[0.2, 0.5, 0.0], [0.3, -0.4, 0.2], [0.35, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    return rig_files.flame_2023_pickle(
        folder, num_vertices=80, num_faces=120, num_shape=NUM_SHAPE, num_expression=NUM_EXPRESSION, seed=4
    )


def shaded_avatar(model, path: Path, *, seed: int = 5) -> avatar_file.Avatar:
    """make_avatar's avatar plus normal shading whose rest normals are those of the rest mesh."""
    plain = make_avatar(model, path, seed=seed)
    rest = lbs.forward(
        model, betas=plain.identity["shape"], vertex_offsets=plain.identity["static_offset"]
    ).vertices
    rest_normal = face_normals(binding.face_frames(rest, model.faces))[plain.binding.parent_face]
    matrix = np.random.default_rng(seed).normal(0.0, 0.4, (len(plain), 3, 3))
    shading = Shading(matrix.astype(np.float32), rest_normal.astype(np.float32))
    avatar_file.write_avatar(path, dataclasses.replace(plain, shading=shading))
    return avatar_file.read_avatar(path)  # the values as stored (float32)


@pytest.fixture
def imported(clean_scene: None, model_file: Path, tmp_path: Path):
    model = loaders.load_model(model_file, family="FLAME")
    path = tmp_path / "lit.gavatar"
    avatar = shaded_avatar(model, path)
    assert avatar.shading is not None
    assert bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file)) == {"FINISHED"}
    return bpy.data.objects["lit"], avatar


def _pose(obj, pose: np.ndarray, expression: np.ndarray | None = None) -> None:
    parts = addon_module("blender.rig.parts").find_rig(obj.gavatar_splat.driver)
    values = {"pose": pose} if expression is None else {"pose": pose, "expression": expression}
    addon_module("blender.rig.pose_io").write_pose(parts, values)


def _reference_dc(obj, avatar: avatar_file.Avatar) -> tuple[np.ndarray, np.ndarray]:
    """(DC with shading, the shading term alone) from the file's arrays on the evaluated driver mesh."""
    runtime = addon_module("engine.splats.runtime")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    source = runtime.SplatSource(obj)
    vertices, features = source.vertices(depsgraph), source.dynamics_features(depsgraph)
    assert source.faces is not None and avatar.shading is not None
    posed = binding.posed_gaussians(
        vertices, source.faces, avatar.binding, avatar.gaussians, avatar.dynamics, features
    )
    term = avatar.shading.dc_delta(binding.face_frames(vertices, source.faces), avatar.binding.parent_face)
    return posed.sh[:, 0] + term, term


def _world_dc(obj, device: str) -> np.ndarray:
    runtime = addon_module("engine.splats.runtime")
    gpu_arrays = addon_module("engine.gpu.arrays")
    addon_module("engine.gpu.context").ensure_gpu_context()
    state = runtime.SplatObjectState(obj)
    state.deform(bpy.context.evaluated_depsgraph_get(), device)
    count = state.data.count
    return gpu_arrays.read(state.data.world["world_dc"])[: count * 4].reshape(count, 4)[:, :3]


def test_turned_faces_shade_the_dc_as_the_numpy_reference_on_cpu_and_gpu(imported) -> None:
    obj, avatar = imported
    runtime = addon_module("engine.splats.runtime")
    _pose(obj, POSE, np.array([0.8, -0.5, 0.3, 0.0]))
    expected, term = _reference_dc(obj, avatar)
    assert np.abs(term).max() > 0.1  # the faces really turned
    cpu = runtime.posed_gaussians(obj, bpy.context.evaluated_depsgraph_get()).sh[:, 0]
    np.testing.assert_allclose(cpu, expected, atol=1e-5)
    np.testing.assert_allclose(_world_dc(obj, "CPU"), expected, atol=1e-5)
    np.testing.assert_allclose(_world_dc(obj, "GPU"), expected, atol=2e-5)


def test_shading_adds_nothing_at_the_rest_pose(imported) -> None:
    obj, avatar = imported
    runtime = addon_module("engine.splats.runtime")
    f_dc = avatar.gaussians.sh[:, 0]
    cpu = runtime.posed_gaussians(obj, bpy.context.evaluated_depsgraph_get()).sh[:, 0]
    np.testing.assert_allclose(cpu, f_dc, atol=5e-5)
    np.testing.assert_allclose(_world_dc(obj, "GPU"), f_dc, atol=5e-5)
    # Posing without dynamics shades a copy: the source's stored SH stay the file's.
    _pose(obj, POSE)
    source = runtime.SplatSource(obj)
    posed = source.pose_cpu(source.vertices(bpy.context.evaluated_depsgraph_get()), None)
    assert np.abs(posed.sh[:, 0] - f_dc).max() > 0.1
    np.testing.assert_array_equal(source.arrays.sh, avatar.gaussians.sh)


def test_shading_survives_save_reload_and_export(imported, tmp_path: Path) -> None:
    obj, avatar = imported
    splat_data = addon_module("engine.splats.data")
    arrays = splat_data.read_arrays(obj)
    np.testing.assert_array_equal(arrays.shading_matrix, avatar.shading.matrix)
    np.testing.assert_array_equal(arrays.shading_rest_normal, avatar.shading.rest_normal)
    blend = tmp_path / "lit.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    reopened = bpy.data.objects["lit"]
    assert_same_arrays(splat_data.read_arrays(reopened), arrays)
    _pose(reopened, POSE)
    expected, _term = _reference_dc(reopened, avatar)
    np.testing.assert_allclose(_world_dc(reopened, "GPU"), expected, atol=2e-5)
    out = tmp_path / "back.gavatar"
    addon_module("blender.avatar_io").export_avatar(reopened, str(out))
    back = avatar_file.read_avatar(out)
    assert back.shading is not None
    np.testing.assert_array_equal(back.shading.matrix, avatar.shading.matrix)
    np.testing.assert_array_equal(back.shading.rest_normal, avatar.shading.rest_normal)


def test_avatar_without_shading_is_unchanged(clean_scene: None, model_file: Path, tmp_path: Path) -> None:
    model = loaders.load_model(model_file, family="FLAME")
    path = tmp_path / "plain.gavatar"
    avatar = make_avatar(model, path)
    assert bpy.ops.gavatar.import_avatar(filepath=str(path), model_path=str(model_file)) == {"FINISHED"}
    obj = bpy.data.objects["plain"]
    splat_data = addon_module("engine.splats.data")
    runtime = addon_module("engine.splats.runtime")
    assert splat_data.ATTR_SHADING not in obj.data.attributes
    assert not splat_data.read_arrays(obj).has_shading
    _pose(obj, POSE)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    source = runtime.SplatSource(obj)
    vertices = source.vertices(depsgraph)
    expected = binding.posed_gaussians(
        vertices, source.faces, avatar.binding, avatar.gaussians, avatar.dynamics,
        source.dynamics_features(depsgraph),
    ).sh[:, 0]  # fmt: skip
    np.testing.assert_allclose(runtime.posed_gaussians(obj, depsgraph).sh[:, 0], expected, atol=1e-6)
    np.testing.assert_allclose(_world_dc(obj, "GPU"), expected, atol=1e-5)
    assert avatar_file.read_avatar(path).shading is None


def _grid_driver() -> bpy.types.Object:
    vertices, faces = grid_mesh(5)
    mesh = bpy.data.meshes.new("Driver")
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    obj = bpy.data.objects.new("Driver", mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _with_shading(arrays, seed: int = 2):
    rng = np.random.default_rng(seed)
    normals = rng.normal(size=(arrays.count, 3))
    arrays.shading_matrix = rng.normal(0.0, 0.3, (arrays.count, 3, 3)).astype(np.float32)
    arrays.shading_rest_normal = (normals / np.linalg.norm(normals, axis=1, keepdims=True)).astype(np.float32)
    return arrays


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("matrix_shape", r"shading_matrix has shape \(40, 3\), expected \(40, 3, 3\)"),
        ("normal_shape", r"shading_rest_normal has shape \(39, 3\), expected \(40, 3\)"),
        ("half", "needs both shading_matrix and shading_rest_normal"),
        ("nan", r"shading_matrix holds NaN or infinite values \(1; first: Gaussian 7\)"),
        ("static", "normal shading needs a binding"),
    ],
)
def test_bad_shading_arrays_create_nothing(clean_scene: None, breakage: str, message: str) -> None:
    splat_data = addon_module("engine.splats.data")
    driver = _grid_driver()
    arrays = _with_shading(bound_arrays(num_faces=len(driver.data.polygons), count=40))
    if breakage == "matrix_shape":
        arrays.shading_matrix = arrays.shading_matrix[:, 0]
    elif breakage == "normal_shape":
        arrays.shading_rest_normal = arrays.shading_rest_normal[1:]
    elif breakage == "half":
        arrays.shading_rest_normal = None
    elif breakage == "nan":
        arrays.shading_matrix[7, 1, 2] = np.nan
    elif breakage == "static":
        arrays.parent_face = arrays.offsets = None
        driver = None
    meshes = len(bpy.data.meshes)
    with pytest.raises(splat_data.SplatDataError, match=message):
        splat_data.create_splat_object("Avatar", arrays, driver=driver)
    assert len(bpy.data.meshes) == meshes and "Avatar" not in bpy.data.objects


def test_broken_shading_attribute_is_reported_by_the_engine(clean_scene: None) -> None:
    splat_data = addon_module("engine.splats.data")
    runtime = addon_module("engine.splats.runtime")
    driver = _grid_driver()
    arrays = _with_shading(bound_arrays(num_faces=len(driver.data.polygons), count=40))
    obj = splat_data.create_splat_object("Avatar", arrays, driver=driver)
    attribute = obj.data.attributes[splat_data.ATTR_SHADING]
    values = np.zeros(40 * 16, dtype=np.float32)
    attribute.data.foreach_get("value", values)
    values[5 * 16 + 10] = np.inf  # Gaussian 5's rest normal
    attribute.data.foreach_set("value", values)
    with pytest.raises(splat_data.SplatDataError, match=r"shading_rest_normal holds NaN.*Gaussian 5"):
        runtime.SplatSource(obj)
    # The engine's scene sync turns it into a problem line and draws the rest.
    addon_module("engine.gpu.context").ensure_gpu_context()
    contents = addon_module("engine.scene_sync").SceneCache().sync(bpy.context.evaluated_depsgraph_get())
    assert not contents.splats and len(contents.problems) == 1, contents.problems
    assert contents.problems[0].startswith("Avatar: shading_rest_normal holds NaN")
    # An attribute of the wrong type names itself.
    obj.data.attributes.remove(attribute)
    obj.data.attributes.new(splat_data.ATTR_SHADING, "FLOAT_VECTOR", "POINT")
    with pytest.raises(splat_data.SplatDataError, match=r"gs_shading.*FLOAT_VECTOR, expected FLOAT4X4"):
        runtime.SplatSource(obj)
