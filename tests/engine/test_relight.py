"""An avatar following a light: its scene-linear colours scale with the light's colour and strength."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from tests.engine.test_shading_gpu import imported, model_file  # noqa: F401 (fixtures)
from tests.fixtures.engine import addon_module, static_arrays
from tests.fixtures.shot import render_linear


def one_colour_splats() -> bpy.types.Object:
    splat_data = addon_module("engine.splats.data")
    arrays = static_arrays(count=300, degree=0, seed=2, spread=0.2)
    arrays.sh[:, 0] = (0.3 - 0.5) / 0.28209479177387814  # display colour 0.3 in every channel
    arrays.opacity_logits[:] = 4.0
    return splat_data.create_splat_object("Splats", arrays)


def test_the_avatar_follows_its_light(clean_scene, tmp_path) -> None:
    scene = bpy.context.scene
    scene.render.engine = "GAVATAR"
    scene.render.resolution_x, scene.render.resolution_y = 48, 48
    scene.render.film_transparent = True
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.location, camera.rotation_euler = (0.0, -2.0, 0.0), (np.pi / 2, 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    splats = one_colour_splats()
    before = render_linear(tmp_path / "before.exr")
    light = bpy.data.objects.new("Key", bpy.data.lights.new("Key", "AREA"))
    light.data.energy = 40.0
    scene.collection.objects.link(light)
    props = splats.gavatar_splat
    props.relight_light = light
    assert props.relight_reference == 40.0  # picked: the avatar looks as trained
    same = render_linear(tmp_path / "same.exr")
    np.testing.assert_allclose(same, before, atol=1e-5)
    light.data.energy = 80.0
    light.data.color = (1.0, 0.5, 0.25)
    after = render_linear(tmp_path / "after.exr")
    opaque = before[..., 3] > 0.995
    assert opaque.sum() > 100
    ratio = after[opaque][:, :3] / before[opaque][:, :3]
    np.testing.assert_allclose(ratio, np.broadcast_to((2.0, 1.0, 0.5), ratio.shape), rtol=1e-3)
    np.testing.assert_allclose(after[..., 3], before[..., 3], atol=1e-6)  # coverage unchanged


def test_the_learned_shading_turns_with_the_light(imported) -> None:  # noqa: F811 (the fixture)
    """A sun followed by an avatar with normal shading, turned 60 degrees after it was picked: the
    CPU and GPU deformations shade the DC with the faces' normals turned back by the same turn."""
    from core.avatar import binding
    from tests.engine.test_shading_gpu import POSE, _pose

    obj, avatar = imported
    _pose(obj, POSE)
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    bpy.context.scene.collection.objects.link(sun)
    bpy.context.view_layer.update()
    obj.gavatar_splat.relight_light = sun
    reference = np.array(obj.gavatar_splat.relight_reference_direction)
    assert np.linalg.norm(reference) == pytest.approx(1.0)
    sun.rotation_euler = (np.radians(60.0), 0.0, 0.0)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    turn = addon_module("engine.splats.data").light_turn(obj, depsgraph)
    assert np.degrees(np.arccos(np.clip((np.trace(turn) - 1.0) / 2.0, -1.0, 1.0))) == pytest.approx(60.0)
    runtime = addon_module("engine.splats.runtime")
    source = runtime.SplatSource(obj)
    vertices = source.vertices(depsgraph)
    frames = binding.face_frames(vertices, source.faces)
    posed = binding.posed_gaussians(
        vertices,
        source.faces,
        avatar.binding,
        avatar.gaussians,
        avatar.dynamics,
        source.dynamics_features(depsgraph),
    )
    expected = posed.sh[:, 0] + avatar.shading.dc_delta(frames, avatar.binding.parent_face, turn)
    unturned = posed.sh[:, 0] + avatar.shading.dc_delta(frames, avatar.binding.parent_face)
    assert np.abs(expected - unturned).max() > 0.05  # the turn matters
    gpu_arrays = addon_module("engine.gpu.arrays")
    addon_module("engine.gpu.context").ensure_gpu_context()
    for device in ("CPU", "GPU"):
        cache = addon_module("engine.scene_sync").SceneCache()
        cache.sync(depsgraph, deform_device=device, sort_device=device)
        data = cache.splats[obj.name].data
        dc = gpu_arrays.read(data.world["world_dc"])[: data.count * 4].reshape(-1, 4)[:, :3]
        np.testing.assert_allclose(dc, expected, atol=2e-5, err_msg=device)
