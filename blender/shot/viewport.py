"""The avatar in Cycles and EEVEE viewports: a 3D view draw handler that draws the scene's splat
objects over Material Preview and Rendered shading, with depth (engine/scene_overlay.py). The
scene setting ``gavatar_engine.avatars_in_viewport`` turns it off."""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from ...engine import hooks, scene_camera
from ...engine.gpu.api import compute_supported
from ...engine.scene_overlay import SceneOverlay
from ...engine.settings import engine_settings
from ...engine.splats import data as splat_data

SHADINGS = frozenset({"MATERIAL", "RENDERED"})

# Module-level by necessity: one overlay (cached splats, last image) per 3D view area.
_overlays: dict[int, SceneOverlay] = {}


def wanted(context: bpy.types.Context) -> bool:
    space = context.space_data
    scene = context.scene
    return (
        scene is not None
        and isinstance(space, bpy.types.SpaceView3D)
        and space.shading.type in SHADINGS
        and context.region_data is not None
        and scene.render.engine != "GAVATAR"  # the engine draws them itself
        and bool(engine_settings(scene).avatars_in_viewport)
    )


def _draw() -> None:
    context = bpy.context
    if not wanted(context) or not compute_supported():
        return
    if not any(splat_data.is_splat_object(obj) for obj in context.visible_objects):
        return  # nothing to draw: no offscreen work on every redraw
    area = context.area
    assert area is not None and context.region_data is not None
    overlay = _overlays.setdefault(area.as_pointer(), SceneOverlay())
    depsgraph = context.evaluated_depsgraph_get()
    camera = scene_camera.viewport_camera(context)
    overlay.draw(depsgraph, camera, np.array(context.region_data.window_matrix, dtype=np.float64))


@bpy.app.handlers.persistent
def _on_update(_scene: bpy.types.Scene, depsgraph: Any = None) -> None:
    if depsgraph is not None:
        for overlay in _overlays.values():
            overlay.note_update(depsgraph)


@bpy.app.handlers.persistent
def _on_load(*_args: Any) -> None:
    _overlays.clear()  # the areas of the old file are gone


def register() -> None:
    hooks.add_draw_handler(bpy.types.SpaceView3D, _draw, (), "WINDOW", "POST_VIEW")
    hooks.add_app_handler("depsgraph_update_post", _on_update)
    hooks.add_app_handler("frame_change_post", _on_update)
    hooks.add_app_handler("load_pre", _on_load)


def unregister() -> None:
    _overlays.clear()  # engine.hooks.unregister() removes the handlers
