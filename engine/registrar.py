"""Typed stand-in for ``bpy.utils.register_classes_factory`` (its stub claims it returns None)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import bpy

# The extension's top package, e.g. "bl_ext.user_default.gaussian_avatar" (engine/'s parent).
EXTENSION_PACKAGE = __package__.rpartition(".")[0]

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems

    OperatorResult = set[OperatorReturnItems]
else:
    OperatorResult = set


def class_registrar(classes: Sequence[type]) -> tuple[Callable[[], None], Callable[[], None]]:
    """Returns register() and unregister() for classes, registered in order, removed in reverse."""

    def register() -> None:
        for cls in classes:
            bpy.utils.register_class(cls)

    def unregister() -> None:
        for cls in reversed(classes):
            bpy.utils.unregister_class(cls)

    return register, unregister
