"""The GAVATAR engine's passes beyond Combined: Depth, Mist, Normal (from the Gaussians) and the
object index; passes it cannot write are named."""

from __future__ import annotations

import bpy
import numpy as np

from tests.fixtures.engine import addon_module, static_arrays
from tests.fixtures.shot import render_linear, render_pass

DISTANCE = 2.0


def flat_card() -> bpy.types.Object:
    """Gaussians in the plane y = 0, flat along y (their shortest axis), opaque, facing a camera
    at y = -DISTANCE."""
    splat_data = addon_module("engine.splats.data")
    arrays = static_arrays(count=400, degree=0, seed=3, spread=0.25)
    arrays.means[:, 1] = 0.0
    arrays.quats[:] = (1.0, 0.0, 0.0, 0.0)
    arrays.log_scales[:] = np.log((0.08, 0.001, 0.08))
    arrays.opacity_logits[:] = 5.0
    obj = splat_data.create_splat_object("Card", arrays)
    obj.pass_index = 3
    return obj


def setup(width: int = 40, height: int = 40) -> bpy.types.Scene:
    scene = bpy.context.scene
    scene.render.engine = "GAVATAR"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.film_transparent = True
    scene.world = bpy.data.worlds.new("World")
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.location, camera.rotation_euler = (0.0, -DISTANCE, 0.0), (np.pi / 2, 0.0, 0.0)
    camera.data.lens = 35.0
    scene.collection.objects.link(camera)
    scene.camera = camera
    layer = scene.view_layers[0]
    for flag in ("use_pass_z", "use_pass_mist", "use_pass_normal", "use_pass_object_index"):
        setattr(layer, flag, True)
    return scene


def test_depth_mist_normal_and_index_passes(clean_scene, tmp_path) -> None:
    scene = setup()
    flat_card()
    mist = scene.world.mist_settings
    mist.start, mist.depth, mist.falloff = 1.0, 2.0, "LINEAR"
    alpha = render_linear(tmp_path / "combined.exr")[..., 3]
    covered = alpha > 0.99
    assert covered.sum() > 200
    depth = render_pass(tmp_path / "depth.exr", "Depth")[..., 0]
    np.testing.assert_allclose(depth[covered], DISTANCE, atol=1e-3)  # the card is at y = 0
    normal = render_pass(tmp_path / "normal.exr", "Normal")[..., :3]
    np.testing.assert_allclose(
        normal[covered], np.broadcast_to((0.0, -1.0, 0.0), normal[covered].shape), atol=1e-3
    )
    index = render_pass(tmp_path / "index.exr", "IndexOB")[..., 0]
    assert set(np.unique(index[covered])) == {3.0} and index[alpha < 0.01].max() == 0.0
    mist_image = render_pass(tmp_path / "mist.exr", "Mist")[..., 0]
    # Linear mist from 1 m over 2 m: the card's centre (2 m away) is at 0.5; off-axis a bit more.
    h, w = mist_image.shape
    centre = mist_image[h // 2 - 1 : h // 2 + 1, w // 2 - 1 : w // 2 + 1]
    assert covered[h // 2 - 1 : h // 2 + 1, w // 2 - 1 : w // 2 + 1].all()
    np.testing.assert_allclose(centre, 0.5, atol=0.01)
    assert (mist_image[covered] >= 0.5 - 1e-3).all()
    np.testing.assert_allclose(mist_image[alpha < 1e-3], 1.0, atol=1e-3)  # nothing there: full mist


def test_unsupported_passes_are_named(clean_scene) -> None:
    outputs = addon_module("engine.passes.outputs")
    layer = setup().view_layers[0]
    assert outputs.unsupported(layer) == []
    layer.use_pass_uv = True
    layer.use_pass_cryptomatte_object = True
    assert outputs.unsupported(layer) == ["UV", "Cryptomatte Object"]
    assert "UV, Cryptomatte Object" in outputs.unsupported_message(outputs.unsupported(layer))


def test_vector_pass_holds_the_motion_as_cycles_writes_it(clean_scene, tmp_path) -> None:
    """A card moving right and up at constant speed: every covered pixel holds (prev - now,
    now - next) in pixels with y up, i.e. minus the motion per frame twice, as Cycles' Vector
    pass holds it for a moving cube (checked by hand: -9.88, -3.95, -9.88, -3.95 for a cube
    moving 9.88 px right and 3.95 px up per frame)."""
    from bpy_extras import anim_utils

    scene = setup()
    scene.view_layers[0].use_pass_vector = True
    card = flat_card()
    step = np.array([0.05, 0.0, 0.02])  # metres per frame (x right, z up)
    for frame in (1, 3):
        card.location = tuple(step * (frame - 2))
        card.keyframe_insert("location", frame=frame)
    channels = anim_utils.action_get_channelbag_for_slot(
        card.animation_data.action, card.animation_data.action_slot
    )
    for curve in channels.fcurves:
        for key in curve.keyframe_points:
            key.interpolation = "LINEAR"
    scene.frame_set(2)
    alpha = render_linear(tmp_path / "combined.exr")[..., 3]
    vector = render_pass(tmp_path / "vector.exr", "Vector")
    fx = scene.camera.data.lens / scene.camera.data.sensor_width * 40
    right, up = fx * step[0] / DISTANCE, fx * step[2] / DISTANCE
    covered = alpha > 0.999
    assert covered.sum() > 100
    expected = np.broadcast_to((-right, -up, -right, -up), vector[covered].shape)
    np.testing.assert_allclose(vector[covered], expected, atol=0.02 * right)
