"""Interop operators: GaussianAvatars import, PLY sequence export, glTF + sidecar export/import.
Each module registers its own classes."""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES: tuple[str, ...] = (".import_gaussianavatars", ".export_ply_sequence", ".gltf_io")


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name, __package__) for name in MODULES]


def register() -> None:
    for module in _modules():
        module.register()


def unregister() -> None:
    for module in reversed(_modules()):
        module.unregister()
