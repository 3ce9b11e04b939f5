"""Add-on preferences. Scripts rely on the property names; keep them stable."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import AddonPreferences, Context

from ..blender.jobs import setup_runs
from ..blender.rig.model_source import ModelFiles
from ..core import paths
from ..core.jobs import setup
from ..engine.registrar import EXTENSION_PACKAGE, class_registrar
from .trainer_setup_box import draw_setup

ADDON_PACKAGE = EXTENSION_PACKAGE  # the preferences' bl_idname

DEVICE_ITEMS = [
    ("AUTO", "Automatic", "CUDA when an NVIDIA GPU is visible and the trainer's torch has CUDA, else CPU"),
    ("cuda", "CUDA", "Train on the NVIDIA GPU with gsplat"),
    ("cpu", "CPU", "Train with the pure-torch reference rasterizer (tiny runs only)"),
]


def _checks(prefs: GAVATAR_AddonPreferences) -> dict[str, str | None]:
    """Problems with each path setting, by property name (None: fine)."""
    return {
        "trainer_python": paths.check_trainer_python(prefs.trainer_python),
        "flame_model_path": paths.check_model_file(prefs.flame_model_path, "FLAME"),
        "smplx_model_path": paths.check_model_file(prefs.smplx_model_path, "SMPLX"),
        "amass_model_dir": paths.check_folder(prefs.amass_model_dir, "AMASS body model folder"),
        "cache_dir": paths.check_folder(prefs.cache_dir, "Cache folder", must_exist=False, writable=True),
    }


def _on_path_set(name: str):
    def update(self: GAVATAR_AddonPreferences, _context: Context) -> None:
        problem = _checks(self)[name]
        if problem:
            print(f"Gaussian Avatar: {problem}")

    return update


class GAVATAR_AddonPreferences(AddonPreferences):
    bl_idname = ADDON_PACKAGE

    trainer_python: StringProperty(  # type: ignore[valid-type]
        name="Trainer Python",
        description="Python executable with torch and gsplat that runs the trainer",
        subtype="FILE_PATH",
        default=setup.discovered_trainer_python(),
        update=_on_path_set("trainer_python"),
    )
    flame_model_path: StringProperty(  # type: ignore[valid-type]
        name="FLAME Model",
        description="FLAME 2020 generic_model.pkl or FLAME 2023 flame2023.pkl (empty: free stand-in)",
        subtype="FILE_PATH",
        update=_on_path_set("flame_model_path"),
    )
    smplx_model_path: StringProperty(  # type: ignore[valid-type]
        name="SMPL-X Model",
        description="SMPLX_NEUTRAL/MALE/FEMALE .npz or .pkl (empty: free stand-in)",
        subtype="FILE_PATH",
        update=_on_path_set("smplx_model_path"),
    )
    amass_model_dir: StringProperty(  # type: ignore[valid-type]
        name="AMASS Body Models",
        description="Folder with the SMPL-H / SMPL-X body models that AMASS clips use",
        subtype="DIR_PATH",
        update=_on_path_set("amass_model_dir"),
    )
    cache_dir: StringProperty(  # type: ignore[valid-type]
        name="Cache Folder",
        description="Where stand-in rigs, trainer runs and other generated files go",
        subtype="DIR_PATH",
        default=str(paths.default_cache_dir()),
        update=_on_path_set("cache_dir"),
    )
    device: EnumProperty(  # type: ignore[valid-type]
        name="Training Device",
        description="Default device for training",
        items=DEVICE_ITEMS,
        default="AUTO",
    )

    def problems(self) -> dict[str, str]:
        return {name: msg for name, msg in _checks(self).items() if msg}

    def draw(self, _context: Context) -> None:
        layout = self.layout
        problems = self.problems()
        for name in (
            "trainer_python",
            "flame_model_path",
            "smplx_model_path",
            "amass_model_dir",
            "cache_dir",
        ):
            layout.prop(self, name)
            if name in problems:
                layout.label(text=problems[name], icon="ERROR")
        layout.prop(self, "device")
        device, note = setup_runs.training_device(str(self.device), str(self.trainer_python))
        if self.device == "AUTO":
            layout.label(text=note or f"Training runs on {device.upper()}", icon="INFO")
        draw_setup(layout, _context)


def get_preferences(context: Context | None = None) -> GAVATAR_AddonPreferences:
    ctx = context or bpy.context
    return ctx.preferences.addons[ADDON_PACKAGE].preferences  # type: ignore[return-value]


def model_files(context: Context | None = None) -> ModelFiles:
    """The model-file settings, as absolute paths, for the Blender-side code below the shell."""
    prefs = get_preferences(context)
    return ModelFiles(
        flame=bpy.path.abspath(prefs.flame_model_path),
        smplx=bpy.path.abspath(prefs.smplx_model_path),
        cache_dir=bpy.path.abspath(prefs.cache_dir),
    )


register, unregister = class_registrar((GAVATAR_AddonPreferences,))
