"""The avatar over a Cycles/EEVEE viewport (engine/scene_overlay.py): drawn over a framebuffer that
already holds a scene with depth, it is hidden by nearer surfaces and covers farther ones."""

from __future__ import annotations

import bpy
import gpu
import numpy as np
from gpu_extras.batch import batch_for_shader
from mathutils import Matrix

from tests.engine.test_passes import flat_card, setup
from tests.fixtures.engine import addon_module

WALL = (0.9, 0.1, 0.1, 1.0)
CLEAR = (0.0, 0.0, 0.3, 1.0)


def draw_wall(camera) -> None:
    """A wall at y = -0.5 (1.5 m from the camera, nearer than the card) over the left half."""
    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    corners = [(-5.0, -0.5, -5.0), (0.0, -0.5, -5.0), (0.0, -0.5, 5.0), (-5.0, -0.5, 5.0)]
    wall = batch_for_shader(shader, "TRIS", {"pos": corners}, indices=[(0, 1, 2), (0, 2, 3)])
    gpu.matrix.load_matrix(Matrix(camera.gl_view().tolist()))
    gpu.matrix.load_projection_matrix(Matrix(camera.gl_projection().tolist()))
    shader.uniform_float("color", WALL)
    gpu.state.depth_test_set("LESS_EQUAL")
    gpu.state.depth_mask_set(True)
    wall.draw(shader)
    gpu.state.depth_test_set("NONE")


def test_the_avatar_is_drawn_over_the_viewport_with_depth(clean_scene) -> None:
    addon_module("engine.gpu.context").ensure_gpu_context()
    overlay_module = addon_module("engine.scene_overlay")
    scene_camera = addon_module("engine.scene_camera")
    gpu_arrays = addon_module("engine.gpu.arrays")
    scene = setup(48, 48)
    flat_card()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    camera = scene_camera.scene_camera(depsgraph, scene)
    offscreen = gpu.types.GPUOffScreen(48, 48, format="RGBA32F")
    overlay = overlay_module.SceneOverlay()
    with offscreen.bind():
        fb = gpu.state.active_framebuffer_get()
        fb.clear(color=CLEAR, depth=1.0)
        draw_wall(camera)
        overlay.draw(depsgraph, camera, camera.gl_projection())
        pixels = np.array(fb.read_color(0, 0, 48, 48, 4, 0, "FLOAT").to_list()).reshape(48, 48, 4)
    avatar = gpu_arrays.read(overlay.session.targets.linear).reshape(48, 48, 4)
    alpha = avatar[..., 3]
    left, right = np.zeros((48, 48), bool), np.zeros((48, 48), bool)
    left[:, :22], right[:, 26:] = True, True
    opaque = alpha > 0.999
    assert (opaque & left).sum() > 50 and (opaque & right).sum() > 50
    np.testing.assert_allclose(
        pixels[opaque & left], np.broadcast_to(WALL, pixels[opaque & left].shape), atol=1e-5
    )
    empty = right & (alpha == 0.0)
    np.testing.assert_allclose(pixels[empty], np.broadcast_to(CLEAR, pixels[empty].shape), atol=1e-6)
    soft = right & (alpha > 0.0)  # premultiplied over the clear colour, soft edges included
    expected = avatar[soft][:, :3] + (1.0 - alpha[soft][:, None]) * np.array(CLEAR[:3])
    np.testing.assert_allclose(pixels[soft][:, :3], expected, atol=1e-4)
