"""Registers every Blender-facing module of the extension, in order, and undoes it in reverse.

Each listed module exposes ``register()`` and ``unregister()``; most build them with
``bpy.utils.register_classes_factory``. Add a module here when it brings Blender classes.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Relative to the extension's top package. Order matters: properties before the panels and
# operators that use them, menus and panels last.
MODULE_NAMES: tuple[str, ...] = (
    ".engine.hooks",
    ".addon.preferences",
    ".addon.properties",
    ".addon.training_props",
    ".blender.jobs.runtime",
    ".blender.farm.runtime",
    ".blender.rig.properties",
    ".blender.rig.auto_rest",
    ".blender.animate.properties",
    ".blender.animate.arkit_map",
    ".engine.splats.range_guard",
    ".engine.render_engine",
    ".engine.view_transform",
    ".blender.datasets.handlers",
    ".blender.shot.handlers",
    ".blender.shot.viewport",
    ".ops",
    ".addon.menus",
    ".addon.panels",
    ".addon.training_panel",
    ".addon.rig_panel",
    ".addon.animate_panel",
    ".addon.arkit_panel",
    ".addon.splat_panel",
    ".addon.range_guard_panel",
)


def _top_package() -> str:
    return __package__.rpartition(".")[0]


def _modules() -> list[ModuleType]:
    top = _top_package()
    return [importlib.import_module(name, top) for name in MODULE_NAMES]


def register() -> None:
    registered: list[ModuleType] = []
    try:
        for module in _modules():
            module.register()
            registered.append(module)
    except Exception:
        # Leave Blender as we found it when one module fails half-way.
        for module in reversed(registered):
            module.unregister()
        raise


def unregister() -> None:
    for module in reversed(_modules()):
        module.unregister()
