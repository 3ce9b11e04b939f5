"""The ``GAVATAR`` render engine: Gaussians live in the viewport and in F12 renders."""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np
from bpy.types import Context, Depsgraph, RenderEngine


def _world_color(scene: bpy.types.Scene) -> tuple[float, float, float]:
    world = scene.world
    if world is None:
        return (0.0, 0.0, 0.0)
    color = world.color
    return (color.r, color.g, color.b)


class GAVATAR_RenderEngine(RenderEngine):
    bl_idname = "GAVATAR"
    bl_label = "Gaussian Avatar"
    bl_use_preview = False
    bl_use_gpu_context = True
    bl_use_eevee_viewport = False

    def render(self, depsgraph: Depsgraph) -> None:  # type: ignore[override]
        scene = depsgraph.scene_eval
        assert scene is not None
        scale = scene.render.resolution_percentage / 100.0
        width = int(scene.render.resolution_x * scale)
        height = int(scene.render.resolution_y * scale)
        rgba = np.zeros((height * width, 4), dtype=np.float32)
        if not scene.render.film_transparent:
            rgba[:, :3] = _world_color(scene)
            rgba[:, 3] = 1.0
        result = self.begin_result(0, 0, width, height)
        result.layers[0].passes["Combined"].rect.foreach_set(rgba.ravel())  # type: ignore[attr-defined]
        self.end_result(result)

    def view_update(self, context: Context, depsgraph: Depsgraph | None) -> None:
        pass

    def view_draw(self, context: Context, depsgraph: Depsgraph | None) -> None:
        pass


# Blender's own property panels that apply to this engine: output, format, film, colour, camera.
_PANEL_PREFIXES = (
    "RENDER_PT_format",
    "RENDER_PT_frame_range",
    "RENDER_PT_output",
    "RENDER_PT_encoding",
    "RENDER_PT_film",
    "RENDER_PT_color_management",
    "RENDER_PT_stereoscopy",
    "DATA_PT_lens",
    "DATA_PT_camera",
    "RENDER_PT_time_stretching",
    "RENDER_PT_post_processing",
)


def _compatible_panels() -> list[Any]:
    return [
        panel
        for panel in bpy.types.Panel.__subclasses__()
        if panel.__name__.startswith(_PANEL_PREFIXES)
        and isinstance(getattr(panel, "COMPAT_ENGINES", None), set)
    ]


def register() -> None:
    bpy.utils.register_class(GAVATAR_RenderEngine)
    for panel in _compatible_panels():
        panel.COMPAT_ENGINES.add(GAVATAR_RenderEngine.bl_idname)


def unregister() -> None:
    for panel in _compatible_panels():
        panel.COMPAT_ENGINES.discard(GAVATAR_RenderEngine.bl_idname)
    bpy.utils.unregister_class(GAVATAR_RenderEngine)
