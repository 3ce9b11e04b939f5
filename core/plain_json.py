"""The ``default=`` hook json.dumps needs for the numpy scalars, arrays and paths our headers hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """A JSON-native stand-in for ``value``; raises TypeError like json does for anything else."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
