"""One ledger of everything the extension hooks into Blender at run time (app handlers, timers,
draw handlers), so unregister() removes all of it. Register hooks only through these functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bpy

# Module-level by necessity: Blender hands back draw-handler handles that only we can remove.
_app_handlers: list[tuple[str, Callable[..., Any]]] = []
_timers: list[Callable[[], float | None]] = []
_draw_handlers: list[tuple[Any, Any, str]] = []
_MSGBUS_OWNER = object()  # owner of every message-bus subscription, to clear them together


def add_app_handler(list_name: str, fn: Callable[..., Any]) -> None:
    handlers = getattr(bpy.app.handlers, list_name)
    if fn not in handlers:
        handlers.append(fn)
        _app_handlers.append((list_name, fn))


def add_timer(fn: Callable[[], float | None], first_interval: float = 0.0) -> None:
    if not bpy.app.timers.is_registered(fn):
        bpy.app.timers.register(fn, first_interval=first_interval)
        _timers.append(fn)


def add_draw_handler(
    space_type: Any,
    callback: Callable[..., Any],
    args: tuple[Any, ...],
    region_type: str = "WINDOW",
    draw_type: str = "POST_VIEW",
) -> Any:
    handle = space_type.draw_handler_add(callback, args, region_type, draw_type)
    _draw_handlers.append((space_type, handle, region_type))
    return handle


def remove_draw_handler(handle: Any) -> None:
    for entry in list(_draw_handlers):
        if entry[1] is handle:
            entry[0].draw_handler_remove(handle, entry[2])
            _draw_handlers.remove(entry)


def subscribe_rna(key: Any, callback: Callable[[], None]) -> None:
    """Calls callback when the RNA property ``key`` changes (UI edits, on the next event loop)."""
    bpy.msgbus.subscribe_rna(key=key, owner=_MSGBUS_OWNER, args=(), notify=callback)


def active_count() -> int:
    return len(_app_handlers) + len(_timers) + len(_draw_handlers)


def remove_all() -> None:
    bpy.msgbus.clear_by_owner(_MSGBUS_OWNER)
    while _draw_handlers:
        space_type, handle, region_type = _draw_handlers.pop()
        space_type.draw_handler_remove(handle, region_type)
    while _timers:
        fn = _timers.pop()
        if bpy.app.timers.is_registered(fn):
            bpy.app.timers.unregister(fn)
    while _app_handlers:
        list_name, fn = _app_handlers.pop()
        handlers = getattr(bpy.app.handlers, list_name)
        if fn in handlers:
            handlers.remove(fn)


def register() -> None:
    pass


def unregister() -> None:
    remove_all()
