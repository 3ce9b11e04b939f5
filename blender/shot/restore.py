"""A ledger of temporary changes to Blender data, undone in reverse order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Ledger:
    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        """owner.name = value, remembering the old value (once per change)."""
        old = getattr(owner, name)
        if old == value:
            return
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, old))

    def on_undo(self, fn: Callable[[], None]) -> None:
        self._undo.append(fn)

    def undo(self) -> list[str]:
        """Undoes everything; returns the errors of steps that could not be undone (data gone)."""
        errors: list[str] = []
        while self._undo:
            fn = self._undo.pop()
            try:
                fn()
            except (ReferenceError, RuntimeError, KeyError) as error:
                errors.append(str(error))
        return errors
