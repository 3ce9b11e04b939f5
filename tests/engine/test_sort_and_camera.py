"""The GPU radix sort against np.argsort, and the camera conversions against Blender's matrices."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from tests.fixtures.engine import addon_module


@pytest.fixture(scope="module")
def gpu_ready(addon: str) -> None:
    addon_module("engine.gpu.context").ensure_gpu_context()


@pytest.mark.parametrize("count", [1, 4095, 4097, 20000])
def test_gpu_radix_sort_is_a_stable_argsort(gpu_ready, count: int) -> None:
    sorting = addon_module("engine.sorting")
    gpu_arrays = addon_module("engine.gpu.arrays")
    rng = np.random.default_rng(count)
    keys = rng.uniform(0.0, 50.0, count).astype(np.float32)
    keys[rng.random(count) < 0.1] = np.inf  # culled splats
    keys[: count // 3] = keys[count // 3 : 2 * (count // 3)]  # many ties
    keys[rng.random(count) < 0.05] = 0.0
    sorter = sorting.GpuRadixSort(count)
    sorter.keys = gpu_arrays.upload_scalars(keys, fill=np.inf)
    sorter.values = gpu_arrays.upload_scalars(np.arange(count, dtype=np.float32))
    sorter.run()
    order = gpu_arrays.read(sorter.values, 1)[:count].astype(np.int64)
    np.testing.assert_array_equal(order, np.argsort(keys, kind="stable"))
    np.testing.assert_array_equal(
        sorting.sort_order_cpu(keys).astype(np.int64), np.argsort(keys, kind="stable")
    )


@pytest.mark.parametrize("ortho", [False, True])
def test_camera_from_blender_matrices_round_trips(clean_scene, ortho: bool) -> None:
    camera_module = addon_module("core.cameras")
    scene = bpy.context.scene
    data = bpy.data.cameras.new("C")
    data.type = "ORTHO" if ortho else "PERSP"
    data.shift_x, data.shift_y, data.lens, data.ortho_scale = 0.07, -0.03, 35.0, 3.0
    data.clip_start, data.clip_end = 0.2, 80.0
    cam = bpy.data.objects.new("C", data)
    scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (1.0, -4.0, 2.0), (1.2, 0.1, 0.3)
    bpy.context.view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    width, height = 200, 120
    window = np.array(cam.calc_matrix_camera(depsgraph, x=width, y=height))
    view = np.linalg.inv(np.array(cam.matrix_world))
    camera = camera_module.from_gl_matrices(view, window, width, height)
    assert camera.orthographic == ortho
    assert camera.near == pytest.approx(0.2, rel=1e-4) and camera.far == pytest.approx(80.0, rel=1e-4)
    np.testing.assert_allclose(camera.gl_projection(), window, rtol=1e-5, atol=1e-6)
    # Points project where Blender's own matrices put them (pixel centres at integers).
    points = np.random.default_rng(0).normal(0.0, 1.0, (20, 3))
    pixels, _depth = camera.project(points)
    clip = (window @ view @ np.c_[points, np.ones(20)].T).T
    ndc = clip[:, :2] / clip[:, 3:]
    expected = np.stack([(ndc[:, 0] + 1) * width / 2 - 0.5, (1 - ndc[:, 1]) * height / 2 - 0.5], axis=1)
    np.testing.assert_allclose(pixels, expected, atol=1e-4)  # Blender matrices are float32
    # A crop is the same camera looking at a window of the image.
    crop = camera.crop(30, 20, 50, 40)
    np.testing.assert_allclose(crop.project(points)[0], pixels - [30, 20], atol=1e-9)
    assert crop.frame_box == (-30.0, -20.0, 170.0, 100.0)


def test_affine_inverse_without_lapack() -> None:
    from core.cameras import affine_inverse

    rng = np.random.default_rng(0)
    for _ in range(50):
        m = np.eye(4)
        m[:3, :3] = rng.normal(size=(3, 3))
        m[:3, 3] = rng.normal(size=3)
        np.testing.assert_allclose(affine_inverse(m), np.linalg.inv(m), atol=1e-9)
    with pytest.raises(ValueError, match="singular"):
        affine_inverse(np.diag([1.0, 0.0, 1.0, 1.0]))
