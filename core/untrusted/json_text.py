"""JSON from files we did not write: bounded size and nesting, no NaN or Infinity literals.

Python's json module recurses once per nesting level; a file of a million '[' raises RecursionError
deep inside it. The nesting is measured first, on the text with its strings blanked out.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from .errors import InputError
from .files import MIB, read_text

MAX_DEPTH = 64
DEFAULT_MAX_BYTES = 64 * MIB
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def nesting_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings (unbalanced text gives a rough figure)."""
    bare = _STRING.sub('""', text).encode("utf-8", "replace")
    codes = np.frombuffer(bare, dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max()) if steps.size else 0


def _refuse_constant(name: str) -> Any:
    raise InputError(f"holds the value {name}, which is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise InputError(f"holds the number {text[:20]}, too large for a float")
    return value


def loads(text: str, *, max_depth: int = MAX_DEPTH, allow_constants: bool = False) -> Any:
    """Parse JSON text; InputError for deep nesting, NaN/Infinity literals (unless
    ``allow_constants``: Python's json writes them, and a reader may name the field instead) or bad
    syntax. Numbers too large for a float are refused either way."""
    if nesting_depth(text) > max_depth:
        raise InputError(f"is JSON nested more than {max_depth} levels deep")
    try:
        return json.loads(
            text, parse_constant=float if allow_constants else _refuse_constant, parse_float=_finite_float
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg.lower()})"
        ) from None
    except RecursionError:
        raise InputError("is JSON nested too deeply") from None


def load_bytes(data: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse UTF-8 JSON bytes (a byte-order mark is dropped)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text") from None
    return loads(text, max_depth=max_depth)


def load_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    allow_constants: bool = False,
) -> Any:
    """A JSON file: a regular file within ``max_bytes``, parsed with the bounds above."""
    text = read_text(path, max_bytes)
    try:
        return loads(text, max_depth=max_depth, allow_constants=allow_constants)
    except InputError as exc:
        raise InputError(exc.problem, path) from None
