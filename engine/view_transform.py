"""The view transform a scene needs for the avatar's colours: Standard, without dither.

The avatar's colours are display values (what the camera saw, sRGB), and the engine hands Blender
their linear equivalents, so only the Standard view transform (no look) shows them as they were.
Blender's default for new scenes, AgX, tone-maps them: a white background comes out grey and the
avatar washed out; its default dither adds noise that turns a white background's pixels 254. The
first time a scene's render engine is Gaussian Avatar, the scene is switched to Standard with no
dither and the console says so; if the user then picks another view transform, it stays (the
Colour Management panel offers a button to go back, ``gavatar.use_standard_view``).

The engine is seen being chosen three ways: a message-bus subscription (the Render Engine menu,
at once), the depsgraph update after a script sets it, and the start of a render (F12, command-line
renders), so every path reaches a render with the right view.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.types import Scene

from . import hooks
from .settings import engine_settings

ENGINE_ID = "GAVATAR"
STANDARD = "Standard"
NO_LOOK = "None"
MESSAGE = (
    "Gaussian Avatar set the scene's view transform to Standard (no look, no dither): the avatar's "
    "colours are display values, which AgX or Filmic would grey and wash out"
)


def shows_display_values(scene: Scene) -> bool:
    """Whether the scene's view shows display values unchanged (Standard, no look)."""
    view = scene.view_settings
    return view.view_transform == STANDARD and view.look in (NO_LOOK, "")


def use_standard(scene: Scene) -> None:
    scene.view_settings.view_transform = STANDARD
    scene.view_settings.look = NO_LOOK
    scene.render.dither_intensity = 0.0  # noise on display values: a white background would speckle


def on_engine_chosen(scene: Scene | None) -> bool:
    """Switches the scene to Standard the first time its engine is Gaussian Avatar; True when it did."""
    if scene is None or scene.render.engine != ENGINE_ID:
        return False
    settings = engine_settings(scene)
    if settings.view_checked:
        return False
    settings.view_checked = True
    if shows_display_values(scene):
        return False
    use_standard(scene)
    print(f"{MESSAGE} (scene '{scene.name}').")
    return True


@bpy.app.handlers.persistent
def _on_depsgraph_update(scene: Scene, _depsgraph: Any = None) -> None:
    on_engine_chosen(scene)


@bpy.app.handlers.persistent
def _on_render_init(scene: Scene, *_args: Any) -> None:
    on_engine_chosen(scene)


def _on_engine_menu() -> None:
    on_engine_chosen(bpy.context.scene)


@bpy.app.handlers.persistent
def _subscribe(*_args: Any) -> None:
    hooks.subscribe_rna((bpy.types.RenderSettings, "engine"), _on_engine_menu)


def register() -> None:
    hooks.add_app_handler("depsgraph_update_post", _on_depsgraph_update)
    hooks.add_app_handler("render_init", _on_render_init)
    hooks.add_app_handler("load_post", _subscribe)  # loading a file drops message-bus subscriptions
    _subscribe()


def unregister() -> None:
    pass  # hooks.unregister removes the handlers and the subscription
