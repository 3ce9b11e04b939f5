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
    layer.use_pass_vector = True
    layer.use_pass_cryptomatte_object = True
    assert outputs.unsupported(layer) == ["Vector", "Cryptomatte Object"]
    assert "Vector, Cryptomatte Object" in outputs.unsupported_message(outputs.unsupported(layer))
