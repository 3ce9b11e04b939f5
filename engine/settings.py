"""Scene-level settings of the GAVATAR engine (``scene.gavatar_engine``), saved in the .blend."""

from __future__ import annotations

from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty
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
    draw_scene_meshes: BoolProperty(  # type: ignore[valid-type]
        name="Scene Meshes",
        description="Draw the scene's other meshes in solid shading; off: only splat objects "
        "(the avatar layer of a Cycles or EEVEE shot)",
        default=True,
    )
    blur_samples: IntProperty(  # type: ignore[valid-type]
        name="Blur Samples",
        description="Images averaged for depth of field (the camera's) and motion blur (the "
        "scene's shutter); used only when one of them is on",
        default=16,
        min=1,
        soft_max=256,
        max=4096,
    )
    # The shot: avatars in renders of other engines (blender/shot/).
    avatars_in_renders: BoolProperty(  # type: ignore[valid-type]
        name="Avatars in Cycles/EEVEE Renders",
        description="F12 and animation renders with Cycles or EEVEE include the scene's splat "
        "objects: rendered by this engine with the same camera and merged by depth in the compositor",
        default=True,
    )
    avatars_in_viewport: BoolProperty(  # type: ignore[valid-type]
        name="Avatars in Cycles/EEVEE Viewports",
        description="Draw the scene's splat objects over Material Preview and Rendered shading of "
        "other engines, hidden by nearer surfaces",
        default=True,
    )
    shadow_proxy: BoolProperty(  # type: ignore[valid-type]
        name="Shadow Proxy",
        description="The driver mesh casts the avatar's shadow in Cycles/EEVEE renders (visible to "
        "shadow rays only); off: the driver mesh is invisible to every ray",
        default=True,
    )
    shadow_shrink: FloatProperty(  # type: ignore[valid-type]
        name="Shadow Shrink",
        description="Moves the shadow proxy's surface inwards along its normals (negative: outwards), "
        "in metres, so its shadow matches the splats' silhouette",
        default=0.0,
        soft_min=-0.05,
        soft_max=0.05,
        unit="LENGTH",
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
