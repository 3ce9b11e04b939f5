"""The render handlers that put the avatars into every Cycles or EEVEE render (F12, Ctrl+F12,
render_sequence, farm workers): no step by the user; the scene setting
``gavatar_engine.avatars_in_renders`` turns it off."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.types import Scene

from ...engine import hooks
from . import session


@bpy.app.handlers.persistent
def _on_render_init(scene: Scene, *_args: Any) -> None:
    session.begin(scene)


@bpy.app.handlers.persistent
def _on_render_pre(scene: Scene, *_args: Any) -> None:
    session.frame(scene)


@bpy.app.handlers.persistent
def _on_render_end(scene: Scene, *_args: Any) -> None:
    session.end(scene)


@bpy.app.handlers.persistent
def _on_file(*_args: Any) -> None:
    # Never save or leave behind a render's temporary set-up.
    session.end_all()


def register() -> None:
    hooks.add_app_handler("render_init", _on_render_init)
    hooks.add_app_handler("render_pre", _on_render_pre)
    hooks.add_app_handler("render_complete", _on_render_end)
    hooks.add_app_handler("render_cancel", _on_render_end)
    hooks.add_app_handler("save_pre", _on_file)
    hooks.add_app_handler("load_pre", _on_file)


def unregister() -> None:
    pass  # engine.hooks.unregister() removes every hook registered through it
