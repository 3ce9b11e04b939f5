"""The one error every dataset reader raises: it names the file and says what is wrong with it."""

from __future__ import annotations

import os


class DatasetError(Exception):
    """A dataset that cannot be read as asked. ``str(error)`` is a sentence fit for a user."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)
