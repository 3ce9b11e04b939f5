"""Operators (``bpy.ops.gavatar.*``). Each module here registers its own classes; list it below.

``IMPORT_ENTRIES`` and ``EXPORT_ENTRIES`` feed the File > Import / Export menus.
"""

from __future__ import annotations

import importlib
from types import ModuleType

OPERATOR_MODULES: tuple[str, ...] = (
    ".setup_check",
    ".import_dataset",
    ".track",
    ".rig",
    ".animation.amass",
    ".animation.retarget",
    ".animation.reenact",
    ".animation.arkit",
    ".animation.range_guard",
    ".animation.animate",
    ".render_sequence",
    ".render_farm",
    ".ply_io",
    ".avatar_io",
    ".train",
    ".trainer_setup",
    ".interop.import_gaussianavatars",
    ".interop.export_ply_sequence",
    ".interop.import_sequence",
    ".interop.gltf_io",
)

# (operator bl_idname, menu label), shown under File > Import / Export > Gaussian Avatar.
IMPORT_ENTRIES: list[tuple[str, str]] = [
    ("gavatar.import_dataset", "Avatar Dataset (folder)"),
    ("gavatar.track_video", "Track Video (video or frames -> FLAME dataset)"),
    ("gavatar.apply_params", "Rig Parameters (.npz)"),
    ("gavatar.import_amass", "AMASS Motion (.npz)"),
    ("gavatar.reenact", "FLAME Sequence (reenactment)"),
    ("gavatar.import_arkit", "ARKit Curves (.csv, .json)"),
    ("gavatar.import_ply", "Gaussian Splats (.ply)"),
    ("gavatar.import_avatar", "Gaussian Avatar (.gavatar)"),
    ("gavatar.import_gaussianavatars", "GaussianAvatars Result (folder)"),
    ("gavatar.import_gltf_avatar", "Avatar glTF + Sidecar (.glb)"),
    ("gavatar.import_sequence", "Gaussian 4D Sequence (.gavatar4d)"),
]
EXPORT_ENTRIES: list[tuple[str, str]] = [
    ("gavatar.export_params", "Rig Parameters (.npz)"),
    ("gavatar.export_ply", "Gaussian Splats (.ply)"),
    ("gavatar.export_avatar", "Gaussian Avatar (.gavatar)"),
    ("gavatar.export_ply_sequence", "Gaussian PLY Sequence (folder)"),
    ("gavatar.export_gltf_avatar", "Avatar glTF + Sidecar (.glb)"),
    ("gavatar.export_flamenco_job", "Flamenco Render Job (.json)"),
]


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name, __package__) for name in OPERATOR_MODULES]


def register() -> None:
    from .last_defence import guard_operators

    for module in _modules():
        guard_operators(module)  # an unexpected exception becomes one sentence and CANCELLED
        module.register()


def unregister() -> None:
    for module in reversed(_modules()):
        module.unregister()
