"""The hooks that keep imported datasets right while the user scrubs and switches cameras:
the scene resolution follows the active dataset camera (camera-switching markers included), and
each camera's background image follows the frame."""

from __future__ import annotations

from typing import Any

import bpy

from ...engine import hooks as handlers
from .cameras import sync_resolution
from .images import update_images


@bpy.app.handlers.persistent
def _on_frame_change(scene: bpy.types.Scene, _depsgraph: Any = None) -> None:
    sync_resolution(scene)
    update_images(scene)


@bpy.app.handlers.persistent
def _on_depsgraph_update(scene: bpy.types.Scene, _depsgraph: Any = None) -> None:
    # Another active camera was picked: give the scene its resolution. Writes only when something
    # differs, so it does not feed back into itself.
    sync_resolution(scene)


def register() -> None:
    handlers.add_app_handler("frame_change_post", _on_frame_change)
    handlers.add_app_handler("depsgraph_update_post", _on_depsgraph_update)


def unregister() -> None:
    pass  # engine.hooks.unregister() removes every hook registered through it
