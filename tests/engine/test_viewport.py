"""The viewport path (engine/viewport.py, what view_update/view_draw run): it shows the
same image as the reference, follows frame changes (scrubbing), redraws on camera moves and
reuses its image when nothing changed."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from tests.engine.test_render import (
    PSNR_MIN,
    build_avatar,
    camera_intrinsics,
    frame_avatar,
    psnr,
    reference_gaussians,
    reference_render,
    setup_scene,
    srgb_from_linear,
    world_to_camera,
)
from tests.fixtures.engine import addon_module

pytest.importorskip("torch")


def _viewport_image(session, camera_obj, width: int, height: int) -> np.ndarray:
    """Draw through the session with the scene camera as the view; (H,W,3) display values."""
    engine = addon_module("engine.render_engine")
    scene_camera = addon_module("engine.scene_camera")
    gpu_arrays = addon_module("engine.gpu.arrays")
    depsgraph = bpy.context.evaluated_depsgraph_get()
    camera = scene_camera.scene_camera(depsgraph, bpy.context.scene)
    assert (camera.width, camera.height) == (width, height)
    texture = session.draw(depsgraph, camera, engine.background_srgb(bpy.context.scene), engine.sync_scene)
    rgba = gpu_arrays.read(texture).reshape(height, width, 4)[::-1]
    return srgb_from_linear(np.clip(rgba[..., :3], 0.0, 1.0))


def test_viewport_follows_frames_and_camera_and_matches_the_reference(clean_scene, monkeypatch) -> None:
    addon_module("engine.gpu.context").ensure_gpu_context()
    viewport = addon_module("engine.viewport")
    frame_module = addon_module("engine.frame")
    pose_io = addon_module("blender.rig.pose_io")
    width, height = 80, 60
    camera = setup_scene(width, height)
    parts, _obj, arrays, model = build_avatar(rank=2)
    rng = np.random.default_rng(4)
    sequence = {"pose": rng.normal(0.0, 0.3, (2, 5, 3)), "expression": rng.normal(0.0, 1.0, (2, 5))}
    pose_io.write_pose(parts, sequence, keyframe=True, frame_start=1)
    scene = bpy.context.scene
    scene.frame_set(1)
    posed, matrix = reference_gaussians(parts, arrays, model)
    frame_avatar(camera, posed, matrix, distance=0.5)
    bpy.context.view_layer.update()

    calls = []
    original = frame_module.render_frame
    monkeypatch.setattr(frame_module, "render_frame", lambda *a, **k: (calls.append(1), original(*a, **k))[1])
    session = viewport.ViewportSession()
    background = srgb_from_linear(np.array(bpy.context.scene.world.color))
    for frame in (1, 2):
        scene.frame_set(frame)
        session.note_update(bpy.context.evaluated_depsgraph_get())  # what view_update does
        image = _viewport_image(session, camera, width, height)
        posed, matrix = reference_gaussians(parts, arrays, model)
        k = camera_intrinsics(camera, width, height)
        expected, _a, _d = reference_render(
            posed, world_to_camera(camera) @ matrix, k, width, height, background
        )
        assert psnr(image, expected) >= PSNR_MIN
    assert len(calls) == 2
    # A redraw with nothing changed reuses the image; a camera move draws again.
    again = _viewport_image(session, camera, width, height)
    assert len(calls) == 2
    np.testing.assert_array_equal(again, image)
    camera.location.x += 0.05
    bpy.context.view_layer.update()
    moved = _viewport_image(session, camera, width, height)
    assert len(calls) == 3 and np.abs(moved - image).max() > 0.05


def test_scene_cache_rebuilds_edited_splats_and_frees_deleted_ones(clean_scene) -> None:
    addon_module("engine.gpu.context").ensure_gpu_context()
    scene_sync = addon_module("engine.scene_sync")
    splat_data = addon_module("engine.splats.data")
    from tests.fixtures.engine import static_arrays

    obj = splat_data.create_splat_object("Splats", static_arrays(count=30))
    cache = scene_sync.SceneCache()
    contents = cache.sync(bpy.context.evaluated_depsgraph_get())
    assert list(cache.splats) == ["Splats"] and len(contents.splats) == 1
    first = cache.splats["Splats"]
    # Replacing the Gaussians (another count) rebuilds the GPU copy.
    splat_data.write_arrays(obj.data, static_arrays(count=40, seed=5))
    depsgraph = bpy.context.evaluated_depsgraph_get()
    cache.note_updates(depsgraph)
    cache.sync(depsgraph)
    assert cache.splats["Splats"] is not first and cache.splats["Splats"].data.count == 40
    bpy.data.objects.remove(obj)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    cache.note_updates(depsgraph)
    assert not cache.sync(depsgraph).splats and not cache.splats


def test_splats_too_large_for_the_gpu_are_reported_not_drawn(clean_scene, monkeypatch) -> None:
    addon_module("engine.gpu.context").ensure_gpu_context()
    scene_sync = addon_module("engine.scene_sync")
    splat_data = addon_module("engine.splats.data")
    gpu_arrays = addon_module("engine.gpu.arrays")
    from tests.fixtures.engine import static_arrays

    splat_data.create_splat_object("Big", static_arrays(count=9000, degree=3))
    splat_data.create_splat_object("Empty", static_arrays(count=0))
    monkeypatch.setattr(gpu_arrays, "max_rows", lambda: 2)
    contents = scene_sync.SceneCache().sync(bpy.context.evaluated_depsgraph_get())
    assert len(contents.problems) == 1 and "Big" in contents.problems[0], contents.problems
    assert "larger than this GPU's 2x2" in contents.problems[0]
    assert [s.data.count for s in contents.splats] == [0]
