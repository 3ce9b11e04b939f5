"""Scene-level settings of the GAVATAR engine (``scene.gavatar_engine``), saved in the .blend."""

from __future__ import annotations

from bpy.props import BoolProperty, EnumProperty, PointerProperty
from bpy.types import PropertyGroup, Scene

from .registrar import class_registrar

DEVICE_ITEMS = [
    ("GPU", "GPU", "Compute shaders on the GPU; only the driver mesh's vertices are uploaded each frame"),
    ("CPU", "CPU", "numpy on the CPU, then an upload of every Gaussian (slower; for comparison)"),
]


class GAVATAR_EngineSettings(PropertyGroup):
    deform_device: EnumProperty(  # type: ignore[valid-type]
        name="Deformation",
        description="Where bound Gaussians are placed on their driver mesh each frame",
        items=DEVICE_ITEMS,
        default="GPU",
    )
    sort_device: EnumProperty(  # type: ignore[valid-type]
        name="Depth Sort",
        description="Where the Gaussians are sorted back to front for each view",
        items=DEVICE_ITEMS,
        default="GPU",
    )
    view_checked: BoolProperty(  # type: ignore[valid-type]
        name="View Transform Checked",
        description="The engine already set this scene's view transform once (engine/view_transform.py)",
        options={"HIDDEN"},
    )


def engine_settings(scene: Scene) -> GAVATAR_EngineSettings:
    return scene.gavatar_engine  # type: ignore[attr-defined,no-any-return]


_register_classes, _unregister_classes = class_registrar((GAVATAR_EngineSettings,))


def register() -> None:
    _register_classes()
    Scene.gavatar_engine = PointerProperty(type=GAVATAR_EngineSettings)  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    del Scene.gavatar_engine  # type: ignore[attr-defined]
    _unregister_classes()
