"""An avatar following a light: its scene-linear colours scale with the light's colour and strength."""

from __future__ import annotations

import bpy
import numpy as np

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
