"""Errors of the rig package: one sentence each, naming the file or the parameter at fault."""

from __future__ import annotations

import os


class ModelFileError(ValueError):
    """A rig model file that cannot be used. ``str(error)`` is one sentence naming the file."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem.rstrip(".")
        super().__init__(f"Model file '{self.path}' {self.problem}.")


class ParamsError(ValueError):
    """Rig parameters (a dataset's parameter dictionary) with a wrong key, shape or value."""
