"""File names as data: frame numbers and timesteps read from names a dataset or sequence gives.

``str.isdigit`` is true for '①' and '²', which ``int`` then refuses; only ASCII digits count here.
"""

from __future__ import annotations

import re

_ASCII_NUMBER = re.compile(r"[0-9]+")
MAX_DIGITS = 12


def ascii_number(text: str) -> int | None:
    """``int(text)`` when ``text`` is ASCII digits only (and not absurdly long), else None."""
    if len(text) > MAX_DIGITS or not _ASCII_NUMBER.fullmatch(text):
        return None
    return int(text)


def numeric_sort_key(stem: str) -> tuple[int, int, str]:
    """Sort key: numbered names in numeric order first, others by name."""
    number = ascii_number(stem)
    return (0, number, "") if number is not None else (1, 0, stem)
