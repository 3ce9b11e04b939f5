"""Scene-level settings of the extension, stored in the .blend (``scene.gavatar``)."""

from __future__ import annotations

from bpy.props import FloatProperty, PointerProperty
from bpy.types import PropertyGroup, Scene

from ..engine.registrar import class_registrar


class GAVATAR_SceneSettings(PropertyGroup):
    splat_scale: FloatProperty(  # type: ignore[valid-type]
        name="Splat Scale",
        description="Scale of every Gaussian when drawn (1 is the trained size)",
        default=1.0,
        min=0.0,
        soft_max=2.0,
    )


_register_classes, _unregister_classes = class_registrar((GAVATAR_SceneSettings,))


def register() -> None:
    _register_classes()
    Scene.gavatar = PointerProperty(type=GAVATAR_SceneSettings)  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    del Scene.gavatar  # type: ignore[attr-defined]
    _unregister_classes()
