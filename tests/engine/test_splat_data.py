"""Splat objects keep their Gaussians in the .blend: create, read back, save/reopen, append, undo,
and refuse bad arrays without leaving anything behind."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from tests.fixtures.engine import (
    addon_module,
    assert_same_arrays,
    bound_arrays,
    grid_mesh,
    static_arrays,
)


@pytest.fixture
def splat_data(clean_scene: None):
    return addon_module("engine.splats.data")


def _driver(name: str = "Driver", n: int = 5) -> bpy.types.Object:
    vertices, faces = grid_mesh(n)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_static_arrays_read_back_identical(splat_data, degree: int) -> None:
    arrays = static_arrays(count=257, degree=degree)
    obj = splat_data.create_splat_object("Splats", arrays)
    assert obj.gavatar_splat.is_splat and obj.gavatar_splat.sh_degree == degree
    assert obj.gavatar_splat.driver is None
    assert len(obj.data.vertices) == 257 and not len(obj.data.polygons)
    assert_same_arrays(splat_data.read_arrays(obj), arrays)


def test_bound_arrays_with_dynamics_survive_save_and_reopen(splat_data, tmp_path) -> None:
    driver = _driver()
    arrays = bound_arrays(num_faces=len(driver.data.polygons), degree=3, rank=5, num_expression=4,
                          num_pose_features=18)  # fmt: skip
    rig_info = {"family": "FLAME", "model_name": "m", "model_sha256": "ab"}
    obj = splat_data.create_splat_object(
        "Avatar", arrays, driver=driver, rig_info=rig_info,
        identity={"shape": np.arange(7.0)}, header={"format": "gaussian-avatar", "version": 1},
    )  # fmt: skip
    assert obj.parent == driver and obj.gavatar_splat.driver == driver
    path = tmp_path / "splats.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    assert "Avatar" not in bpy.data.objects
    bpy.ops.wm.open_mainfile(filepath=str(path))
    reopened = bpy.data.objects["Avatar"]
    assert reopened.gavatar_splat.driver == bpy.data.objects["Driver"]
    assert reopened.gavatar_splat.rig_family == "FLAME"
    assert_same_arrays(splat_data.read_arrays(reopened), arrays)
    np.testing.assert_array_equal(splat_data.stored_identity(reopened)["shape"], np.arange(7.0))
    assert splat_data.stored_header(reopened)["version"] == 1


def test_append_brings_the_driver_along(splat_data, tmp_path) -> None:
    driver = _driver()
    arrays = bound_arrays(num_faces=len(driver.data.polygons), degree=0)
    splat_data.create_splat_object("Avatar", arrays, driver=driver)
    path = tmp_path / "library.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    with bpy.data.libraries.load(str(path), link=False) as (_data_from, data_to):
        data_to.objects = ["Avatar"]
    appended = data_to.objects[0]
    bpy.context.scene.collection.objects.link(appended)
    assert appended.gavatar_splat.driver is not None
    assert appended.gavatar_splat.driver.name.startswith("Driver")
    assert_same_arrays(splat_data.read_arrays(appended), arrays)


def _only_window_override():
    return bpy.context.temp_override(window=bpy.context.window_manager.windows[0])


def test_undo_and_redo_an_import(splat_data, tmp_path) -> None:
    ply_io = addon_module("ops.ply_io")
    ply = addon_module("core.avatar.ply")
    arrays = static_arrays(count=64, degree=2)
    path = tmp_path / "scene.ply"
    ply.write_ply(path, arrays.gaussians())
    bpy.ops.ed.undo_push(message="before")
    assert bpy.ops.gavatar.import_ply(filepath=str(path)) == {"FINISHED"}
    bpy.ops.ed.undo_push(message="import")
    assert "scene" in bpy.data.objects
    with _only_window_override():
        bpy.ops.ed.undo()
    assert "scene" not in bpy.data.objects
    with _only_window_override():
        bpy.ops.ed.redo()
    assert_same_arrays(splat_data.read_arrays(bpy.data.objects["scene"]), arrays)
    assert ply_io.GAVATAR_OT_import_ply.bl_options >= {"UNDO"}


def _counts() -> tuple[int, int]:
    return len(bpy.data.objects), len(bpy.data.meshes)


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("nan", "NaN or infinite"),
        ("inf", "NaN or infinite"),
        ("shape", "shape"),
        ("sh", "coefficients"),
    ],
)
def test_bad_static_arrays_create_nothing(splat_data, breakage: str, message: str) -> None:
    arrays = static_arrays(count=50, degree=1)
    if breakage == "nan":
        arrays.means[7, 1] = np.nan
    elif breakage == "inf":
        arrays.sh[3, 2, 0] = np.inf
    elif breakage == "shape":
        arrays.quats = arrays.quats[:, :3]
    else:
        arrays.sh = np.zeros((50, 5, 3), np.float32)
    before = _counts()
    with pytest.raises(splat_data.SplatDataError, match=message):
        splat_data.create_splat_object("Bad", arrays)
    assert _counts() == before


def test_binding_past_the_driver_faces_creates_nothing(splat_data) -> None:
    driver = _driver()
    faces = len(driver.data.polygons)
    arrays = bound_arrays(num_faces=faces)
    arrays.parent_face[5] = faces + 3
    before = _counts()
    with pytest.raises(
        splat_data.SplatDataError, match=f"points past the driver mesh's faces: face {faces + 3}"
    ):
        splat_data.create_splat_object("Bad", arrays, driver=driver)
    assert _counts() == before


def test_driver_with_quads_is_refused(splat_data) -> None:
    mesh = bpy.data.meshes.new("Quad")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)], [], [(0, 1, 2, 3)])
    quad = bpy.data.objects.new("Quad", mesh)
    bpy.context.scene.collection.objects.link(quad)
    with pytest.raises(splat_data.SplatDataError, match="not triangles"):
        splat_data.create_splat_object("Bad", bound_arrays(num_faces=1), driver=quad)


def test_wrong_attribute_type_is_reported_by_name(splat_data) -> None:
    obj = splat_data.create_splat_object("Splats", static_arrays(count=10))
    obj.data.attributes.remove(obj.data.attributes["gs_opacity"])
    obj.data.attributes.new("gs_opacity", "FLOAT_VECTOR", "POINT")
    with pytest.raises(splat_data.SplatDataError, match=r"gs_opacity.*FLOAT_VECTOR"):
        splat_data.read_arrays(obj)
