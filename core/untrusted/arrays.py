"""Values from a file as arrays of a declared dtype and shape, finite and in a plausible range.

Blender stores floats as float32: a finite float64 above 3.4e38 becomes inf there, so "finite"
means finite in float32 terms unless a reader asks for less. Shapes are declared with ``None`` for
a free axis; a 0-d, empty, string or object value where numbers are due is refused, not reshaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import InputError, short

FLOAT32_MAX = float(np.finfo(np.float32).max)
Shape = Sequence[int | None]


def _shape_text(shape: Shape) -> str:
    parts = ["N" if n is None else str(n) for n in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


MAX_LIST_LEAVES = 50_000_000


def leaf_count(value: Any, limit: int = MAX_LIST_LEAVES) -> int:
    """How many numbers a nested list holds, counting a shared sub-list once per use but visiting it
    once (a pickle's memo can nest one list 40 times: 2^40 leaves in a few hundred bytes)."""
    memo: dict[int, int] = {}

    def count(item: Any, depth: int) -> int:
        if not isinstance(item, list | tuple):
            return 1
        if depth > 32:
            raise InputError("holds a list nested more than 32 levels deep")
        known = memo.get(id(item))
        if known is None:
            known = sum(count(child, depth + 1) for child in item)
            memo[id(item)] = known
        if known > limit:
            raise InputError(f"holds a list of more than {limit} numbers")
        return known

    return count(value, 0)


def _numeric(value: Any, key: str) -> np.ndarray:
    if isinstance(value, str | bytes):
        raise InputError(f"has text where '{key}' should hold numbers")
    if isinstance(value, list | tuple):
        leaf_count(value)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        raise InputError(f"has a '{key}' that is not a numeric array") from None
    if array.dtype.kind in "US":
        raise InputError(f"has text where '{key}' should hold numbers")
    if array.dtype.kind not in "biuf":
        raise InputError(f"has a '{key}' of type {array.dtype.name} where numbers are due")
    return array


def check_shape(array: np.ndarray, key: str, shape: Shape, *, min_rows: int = 0) -> None:
    """InputError unless ``array`` has ``len(shape)`` axes and matches every fixed size."""
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=False)
    ):
        raise InputError(f"has '{key}' of shape {short(array.shape, 40)}; expected {_shape_text(shape)}")
    if array.ndim and array.shape[0] < min_rows:
        raise InputError(f"has '{key}' with {array.shape[0]} rows; at least {min_rows} are needed")


def float_array(
    value: Any,
    key: str,
    shape: Shape | None = None,
    *,
    limit: float = FLOAT32_MAX,
    dtype: type | None = np.float64,
    min_rows: int = 0,
) -> np.ndarray:
    """``value`` as a float array of ``shape``, every entry finite with ``|x| <= limit``.
    ``dtype=None`` keeps a stored float type (float32 stays float32); other types become float64."""
    array = _numeric(value, key)
    if shape is not None:
        check_shape(array, key, shape, min_rows=min_rows)
    target = dtype if dtype is not None else (array.dtype if array.dtype.kind == "f" else np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        out: np.ndarray = array.astype(target, copy=False)
        if out.size:
            if not np.isfinite(out).all():
                raise InputError(f"has non-finite values: NaN or infinite values in '{key}'")
            if float(np.abs(out).max()) > limit:
                raise InputError(f"has values in '{key}' beyond the plausible +-{limit:.3g}")
    return out


def int_array(
    value: Any,
    key: str,
    shape: Shape | None = None,
    *,
    low: int | None = None,
    high: int | None = None,
    dtype: type = np.int64,
) -> np.ndarray:
    """``value`` as an integer array of ``shape`` with every entry in ``[low, high)``. Floats are
    accepted only where they hold whole numbers (old model files store indices as floats)."""
    array = _numeric(value, key)
    if shape is not None:
        check_shape(array, key, shape)
    if array.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            if array.size and (not np.isfinite(array).all() or not np.all(array == np.round(array))):
                raise InputError(f"has non-integer values in '{key}'")
            if array.size and float(np.abs(array).max()) > 2**62:
                raise InputError(f"has values in '{key}' too large for an index")
    out: np.ndarray = array.astype(dtype)
    if out.size:
        if low is not None and int(out.min()) < low:
            raise InputError(f"has '{key}' values below {low}")
        if high is not None and int(out.max()) >= high:
            raise InputError(f"has '{key}' values of {int(out.max())} or more, where fewer than {high} exist")
    return out


def scalar(value: Any, key: str, *, low: float, high: float, open_low: bool = False) -> float:
    """One number (a 0-d or one-element array is fine) in ``[low, high]`` (``(low, high]`` with
    ``open_low``); refuses text, booleans, NaN and empty arrays."""
    if isinstance(value, bool | str | bytes) or value is None:
        raise InputError(f"has a '{key}' that is not a number")
    array = _numeric(value, key)
    if array.size != 1 or array.dtype.kind == "b":
        raise InputError(f"has a '{key}' that is not a single number")
    number = float(array.reshape(-1)[0])
    below = number <= low if open_low else number < low
    if not np.isfinite(number) or below or number > high:
        bracket = "(" if open_low else "["
        raise InputError(
            f"has '{key}' = {short(number, 24)}, outside the plausible range {bracket}{low:g}, {high:g}]"
        )
    return number


def integer(value: Any, key: str, *, low: int, high: int) -> int:
    """One whole number in ``[low, high]``; JSON's ``true`` and ``1.5`` are refused."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        else:
            raise InputError(f"has a '{key}' that is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise InputError(f"has '{key}' = {short(number, 24)}, outside the plausible range [{low}, {high}]")
    return number


def text_value(value: Any, key: str, default: str = "", max_chars: int = 200) -> str:
    """A short string from a 0-d / one-element text array, a str or bytes; ``default`` otherwise."""
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind not in "US":
            return default
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        value = bytes(value).decode("latin1")
    if not isinstance(value, str):
        return default
    if len(value) > max_chars:
        raise InputError(f"has a '{key}' text of {len(value)} characters")
    return value
