"""Every operator's last line of defence: an exception nobody expected becomes one sentence and
CANCELLED, never a Python traceback in the user's face or an exception's own text in the report.

``guard_operators`` wraps the ``execute`` of each operator class of a module once, before it is
registered. Errors whose text is written for users (the readers' and the Blender-side features' own
error classes) are reported as they are; anything else is reported as one plain sentence, and its
traceback goes to the system console for a bug report. Either way, datablocks the operator made
before the exception are removed again.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from types import ModuleType
from typing import Any

import bpy

from ..blender.animate.errors import AnimateError
from ..blender.rig.animation import NonFiniteKeysError
from ..core.avatar.avatar_file import AvatarFileError
from ..core.avatar.ply import PlyError
from ..core.datasets.errors import DatasetError
from ..core.interop.errors import InteropError
from ..core.motion.errors import MotionFileError
from ..core.rig.errors import ModelFileError, ParamsError
from ..core.untrusted.errors import InputError, display_name, short

# Errors whose message is a sentence written for the user.
SENTENCE_ERRORS: tuple[type[BaseException], ...] = (
    AnimateError,
    AvatarFileError,
    DatasetError,
    InputError,
    InteropError,
    ModelFileError,
    MotionFileError,
    NonFiniteKeysError,
    ParamsError,
    PlyError,
)
_WRAPPED = "_gavatar_guarded"


def as_sentence(text: str, limit: int = 400) -> str:
    """One line, ending in a full stop, cut short where a quoted value ran long."""
    line = " ".join(str(text).split())
    line = short(line, limit)
    return line if line.endswith((".", "!", "?")) else line + "."


def unexpected_sentence(label: str) -> str:
    return f"{label} stopped on an unexpected problem; the details are on the system console."


# What an operator may have made before an exception reached us: removed again, so a CANCELLED
# operator leaves bpy.data as it found it (objects first: they use the rest).
_DATA_KINDS = ("objects", "meshes", "armatures", "actions", "cameras", "images", "materials", "collections")


def data_names() -> dict[str, set[str]]:
    return {kind: {block.name for block in getattr(bpy.data, kind)} for kind in _DATA_KINDS}


def remove_new_data(before: dict[str, set[str]]) -> None:
    for kind in _DATA_KINDS:
        blocks = getattr(bpy.data, kind)
        for block in [b for b in blocks if b.name not in before[kind]]:
            blocks.remove(block)


def undecodable_path(operator: Any) -> str:
    """The shown form of a file or folder setting that is not valid UTF-8 (Blender names and
    reports must be), else ''."""
    for prop in ("filepath", "directory", "model_path"):
        value = getattr(operator, prop, None)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return display_name(value)
    return ""


def guarded(execute: Callable[..., Any]) -> Callable[..., Any]:
    """``execute`` that reports a sentence and returns CANCELLED instead of raising."""

    @functools.wraps(execute)
    def run(self: Any, context: Any) -> Any:
        undecodable = undecodable_path(self)
        if undecodable:
            self.report(
                {"ERROR"}, f"The name '{undecodable}' is not valid UTF-8 text; rename it and try again."
            )
            return {"CANCELLED"}
        before = data_names()
        try:
            return execute(self, context)
        except SENTENCE_ERRORS as exc:
            remove_new_data(before)
            self.report({"ERROR"}, as_sentence(str(exc)))
            return {"CANCELLED"}
        except Exception:
            remove_new_data(before)
            traceback.print_exc(file=sys.stderr)
            label = getattr(self, "bl_label", "") or "The operation"
            self.report({"ERROR"}, unexpected_sentence(label))
            return {"CANCELLED"}

    setattr(run, _WRAPPED, True)
    return run


def guard_operators(module: ModuleType) -> None:
    """Wrap ``execute`` of every operator class defined in ``module`` (once)."""
    for value in list(vars(module).values()):
        if not (isinstance(value, type) and issubclass(value, bpy.types.Operator)):
            continue
        if value.__module__ != module.__name__:
            continue
        execute = value.__dict__.get("execute")
        if execute is not None and not getattr(execute, _WRAPPED, False):
            value.execute = guarded(execute)  # type: ignore[method-assign]
