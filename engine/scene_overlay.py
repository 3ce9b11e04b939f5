"""The avatar over a Cycles or EEVEE viewport (Material Preview and Rendered shading): the splat
objects drawn by our offscreen path for the view, then over the viewport's own image with its
depth (engine/shaders/depth_over.py), so nearer scene surfaces hide the avatar and it hides what
is behind it. blender/shot/viewport.py calls it from a 3D view draw handler."""

from __future__ import annotations

import numpy as np
from bpy.types import Depsgraph

from ..core.cameras import ViewCamera
from . import frame
from . import shaders as shader_cache
from .gpu.api import Texture, gpu
from .render_engine import sync_scene
from .scene_sync import SceneCache, SceneContents
from .shaders import depth_over
from .viewport import ViewportSession


def sync_splats(cache: SceneCache, depsgraph: Depsgraph) -> SceneContents:
    """The splat objects only: the viewport draws the scene's meshes itself."""
    return sync_scene(cache, depsgraph, meshes=False)


def draw_over(image: Texture, depth: Texture, projection: np.ndarray, width: int, height: int) -> None:
    """Draws image (premultiplied) with its view depths over the bound framebuffer, depth-tested
    against the framebuffer's depth; projection: the view's OpenGL projection (4, 4)."""
    shader = shader_cache.get(depth_over)
    shader.bind()
    shader.uniform_sampler("image", image)
    shader.uniform_sampler("depth", depth)
    shader.uniform_float("projection_z", (float(projection[2, 2]), float(projection[2, 3])))
    orthographic = abs(float(projection[3, 3]) - 1.0) < 1e-9
    shader.uniform_int("orthographic", int(orthographic))
    gpu.state.depth_test_set("LESS_EQUAL")
    gpu.state.depth_mask_set(False)
    gpu.state.blend_set("ALPHA_PREMULT")
    frame.fullscreen_batch().draw(shader)
    gpu.state.blend_set("NONE")
    gpu.state.depth_test_set("NONE")


class SceneOverlay:
    """One per 3D view area: the cached splats and last image of that view."""

    def __init__(self) -> None:
        self.session = ViewportSession()

    def note_update(self, depsgraph: Depsgraph) -> None:
        self.session.note_update(depsgraph)

    def draw(self, depsgraph: Depsgraph, camera: ViewCamera, projection: np.ndarray) -> None:
        image = self.session.draw(depsgraph, camera, None, sync_splats)
        targets = self.session.targets
        assert targets is not None
        draw_over(image, targets.depth, projection, camera.width, camera.height)
