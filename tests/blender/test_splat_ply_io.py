"""gavatar.import_ply / gavatar.export_ply: round trips, world and Y-up coordinates, posed avatars,
and broken files that import nothing."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from tests.fixtures.engine import (
    addon_module,
    assert_same_arrays,
    bound_arrays,
    make_rig,
    pose_rig,
    static_arrays,
)


@pytest.fixture
def modules(clean_scene: None):
    return addon_module("engine.splats.data"), addon_module("core.avatar.ply")


def _write(ply, path, arrays) -> None:
    ply.write_ply(path, arrays.gaussians())


def _unit(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


def test_import_then_export_gives_the_same_file_contents(modules, tmp_path) -> None:
    splat_data, ply = modules
    arrays = static_arrays(count=300, degree=3)
    source = tmp_path / "in.ply"
    _write(ply, source, arrays)
    assert bpy.ops.gavatar.import_ply(filepath=str(source)) == {"FINISHED"}
    obj = bpy.data.objects["in"]
    assert_same_arrays(splat_data.read_arrays(obj), arrays)
    target = tmp_path / "out.ply"
    assert bpy.ops.gavatar.export_ply(filepath=str(target)) == {"FINISHED"}
    back = ply.read_ply(target)
    np.testing.assert_array_equal(back.means, arrays.means)
    np.testing.assert_allclose(_unit(back.quats), _unit(arrays.quats), atol=1e-6)
    np.testing.assert_allclose(back.log_scales, arrays.log_scales, atol=1e-6)
    np.testing.assert_array_equal(back.opacity_logits, arrays.opacity_logits)
    np.testing.assert_allclose(back.sh, arrays.sh, atol=1e-6)


def test_y_up_import_turns_the_object_and_y_up_export_restores_the_file(modules, tmp_path) -> None:
    _splat_data, ply = modules
    arrays = static_arrays(count=100, degree=2)
    source = tmp_path / "yup.ply"
    _write(ply, source, arrays)
    bpy.ops.gavatar.import_ply(filepath=str(source), y_up=True)
    obj = bpy.data.objects["yup"]
    np.testing.assert_allclose(tuple(obj.rotation_euler), (math.pi / 2, 0.0, 0.0))
    # In Blender world space a model point (x, y, z) sits at (x, -z, y).
    world = tmp_path / "world.ply"
    bpy.ops.gavatar.export_ply(filepath=str(world))
    w = ply.read_ply(world)
    expected = np.stack([arrays.means[:, 0], -arrays.means[:, 2], arrays.means[:, 1]], axis=1)
    np.testing.assert_allclose(w.means, expected, atol=1e-6)
    back_path = tmp_path / "back.ply"
    bpy.ops.gavatar.export_ply(filepath=str(back_path), y_up=True)
    back = ply.read_ply(back_path)
    np.testing.assert_allclose(back.means, arrays.means, atol=1e-6)
    np.testing.assert_allclose(_unit(back.quats), _unit(arrays.quats), atol=1e-5)
    np.testing.assert_allclose(back.sh, arrays.sh, atol=1e-5)


def test_export_of_a_bound_avatar_writes_it_posed_in_world_space(modules, tmp_path) -> None:
    splat_data, ply = modules
    binding = addon_module("core.avatar.binding")
    armature, driver = make_rig()
    arrays = bound_arrays(num_faces=len(driver.data.polygons), count=120, degree=1)
    splat_data.create_splat_object("Avatar", arrays, driver=driver)
    armature.location = (0.5, 0.0, 0.2)
    pose_rig(armature, frame=1)
    bpy.context.scene.frame_set(1)
    bpy.ops.object.select_all(action="DESELECT")
    bpy.data.objects["Avatar"].select_set(True)
    path = tmp_path / "posed.ply"
    assert bpy.ops.gavatar.export_ply(filepath=str(path)) == {"FINISHED"}
    out = ply.read_ply(path)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = driver.evaluated_get(depsgraph).data
    vertices = np.array([v.co for v in mesh.vertices], dtype=np.float64)
    faces = np.array([p.vertices[:] for p in driver.data.polygons])
    posed = binding.bind(
        binding.face_frames(vertices, faces),
        binding.Binding(arrays.parent_face, arrays.offsets, arrays.quats, arrays.log_scales),
    )
    world = np.array(driver.evaluated_get(depsgraph).matrix_world)
    expected = posed.means @ world[:3, :3].T + world[:3, 3]
    np.testing.assert_allclose(out.means, expected, atol=1e-5)
    # The bend moved the Gaussians away from their rest positions.
    assert np.abs(out.means - (arrays.means @ world[:3, :3].T + world[:3, 3])).max() > 0.05


def _vertex_rows(ply_bytes_header: bytes, rows: np.ndarray) -> bytes:
    return ply_bytes_header + rows.astype("<f4").tobytes()


def _broken_file(kind: str, path, ply) -> None:
    arrays = static_arrays(count=20, degree=0)
    if kind == "missing_property":
        header = b"ply\nformat binary_little_endian 1.0\nelement vertex 20\n"
        header += b"".join(f"property float {n}\n".encode() for n in ("x", "y", "z", "opacity"))
        header += b"end_header\n"
        path.write_bytes(header + np.zeros((20, 4), "<f4").tobytes())
    elif kind == "nan":
        arrays.opacity_logits[4] = np.nan
        ply.write_ply(path, arrays.gaussians(), allow_nonfinite=True)
    elif kind == "inf":
        arrays.means[2, 0] = np.inf
        ply.write_ply(path, arrays.gaussians(), allow_nonfinite=True)
    elif kind == "truncated":
        ply.write_ply(path, arrays.gaussians())
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 100])
    elif kind == "not_a_ply":
        path.write_bytes(b"this is not a ply file at all\n")


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing_property", "f_dc|scale|rot|propert"),
        ("nan", "NaN or infinite"),
        ("inf", "NaN or infinite"),
        ("truncated", "truncated|short|expected|bytes"),
        ("not_a_ply", "not a PLY|ply"),
        ("missing_file", "No such file|does not exist|Cannot read"),
    ],
)
def test_broken_ply_files_import_nothing(modules, tmp_path, kind: str, message: str) -> None:
    _splat_data, ply = modules
    path = tmp_path / "broken.ply"
    if kind != "missing_file":
        _broken_file(kind, path, ply)
    before = (len(bpy.data.objects), len(bpy.data.meshes))
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.gavatar.import_ply(filepath=str(path))
    assert (len(bpy.data.objects), len(bpy.data.meshes)) == before


def test_export_without_splat_objects_is_refused(modules, tmp_path) -> None:
    with pytest.raises(RuntimeError, match="No selected splat objects"):
        bpy.ops.gavatar.export_ply(filepath=str(tmp_path / "none.ply"))
    assert not (tmp_path / "none.ply").exists()


def test_file_menus_list_the_ply_operators(modules) -> None:
    ops = addon_module("ops")
    assert ("gavatar.import_ply", "Gaussian Splats (.ply)") in ops.IMPORT_ENTRIES
    assert ("gavatar.export_ply", "Gaussian Splats (.ply)") in ops.EXPORT_ENTRIES
