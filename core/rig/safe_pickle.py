"""Read the original FLAME / SMPL-X / SMPL-H pickles with numpy only, and never run code from them.

Those pickles were written in Python 2 with chumpy arrays and scipy sparse matrices inside. Blender's
Python has neither package, and a pickle may name any callable. ``SafeUnpickler`` resolves a short
list of numpy reconstructors; every chumpy or scipy class becomes a plain data holder, turned into
numpy arrays afterwards by ``to_numpy_tree``; any other class is refused with ``UnsafePickleError``.

A pickle's memo lets a few hundred bytes share one list 40 times over: walking that as a tree visits
2^40 leaves. ``to_numpy_tree`` converts each shared object once, bounds the depth and the number of
objects, and refuses a sparse matrix or array whose declared size no model file reaches.
"""

from __future__ import annotations

import codecs
import io
import pickle
from typing import Any

import numpy as np

from ..untrusted.arrays import leaf_count
from ..untrusted.errors import InputError


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a class or function that a model file never needs."""


MAX_DEPTH = 32  # a model file is a dictionary of arrays: a few levels at most
MAX_OBJECTS = 1_000_000  # distinct containers and values visited while converting
MAX_DENSE_ELEMENTS = 200_000_000  # a dense (J, V) regressor of the largest models is ~ 55 x 10^4
MAX_BUFFER_BYTES = 1 << 31


def _bounded_sequence(kind: type) -> Any:
    """bytes / bytearray as a pickle may call them, refusing ``bytearray(10**12)``: an integer
    argument allocates that many zero bytes."""

    def build(*args: Any) -> Any:
        if args and isinstance(args[0], int) and args[0] > MAX_BUFFER_BYTES:
            raise UnsafePickleError(f"it asks for a buffer of {args[0]} bytes")
        return kind(*args)

    return build


class _Holder:
    """Plain data holder for a pickled object of a class we do not import: only its state."""

    class_path = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"_raw_state": state}

    def get_state(self) -> dict[str, Any]:
        # NEWOBJ creates the object with __new__ alone, so __init__ may not have run.
        return getattr(self, "state", {})


class ChumpyObject(_Holder):
    """What a pickled chumpy ``Ch`` (or one of its operators) unpickles to."""


class SparseMatrixObject(_Holder):
    """What a pickled scipy.sparse matrix unpickles to: its format and its stored arrays."""


def _holder_class(base: type[_Holder], class_path: str) -> type[_Holder]:
    # One subclass per pickled class path, so messages can name what the file held.
    return type(base.__name__, (base,), {"class_path": class_path})


def _numpy_module(name: str) -> Any:
    # numpy 1.x writes numpy.core.*, numpy 2.x numpy._core.*; either may be installed here.
    for candidate in (
        name,
        name.replace("numpy._core", "numpy.core"),
        name.replace("numpy.core", "numpy._core"),
    ):
        try:
            module = __import__(candidate, fromlist=["_"])
        except ImportError:
            continue
        return module
    raise UnsafePickleError(f"numpy module {name} is not available")


_NUMPY_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}
_BUILTINS_ALLOWED = {
    "set",
    "frozenset",
    "complex",
    "slice",
    "bytearray",
    "object",
    "bytes",
    "str",
    "int",
    "float",
}
_SPARSE_FORMATS = ("csc", "csr", "coo")


def _safe_reconstructor(cls: type, base: type, state: Any) -> Any:
    """copyreg._reconstructor limited to our data holders (Python 2 pickles of plain objects)."""
    if not (isinstance(cls, type) and issubclass(cls, _Holder)) or base is not object:
        raise UnsafePickleError(f"copyreg._reconstructor of {cls!r} is not allowed")
    obj = cls()
    if state is not None:
        obj.__setstate__(state)
    return obj


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy reconstructors and chumpy/scipy data holders."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_ALLOWED:
            return getattr(_numpy_module(module), name)
        if module in ("builtins", "__builtin__") and name in ("bytes", "bytearray"):
            return _bounded_sequence(bytes if name == "bytes" else bytearray)
        if module in ("builtins", "__builtin__") and name in _BUILTINS_ALLOWED:
            return getattr(__import__("builtins"), name)
        if module in ("copyreg", "copy_reg") and name == "_reconstructor":
            return _safe_reconstructor
        if module == "_codecs" and name == "encode":
            return codecs.encode  # bytes written by Python 3 for Python 2 readers
        if module == "chumpy" or module.startswith("chumpy."):
            return _holder_class(ChumpyObject, f"{module}.{name}")
        if (module == "scipy.sparse" or module.startswith("scipy.sparse.")) and name.split("_")[
            0
        ] in _SPARSE_FORMATS:
            return _holder_class(SparseMatrixObject, f"{module}.{name}")
        raise UnsafePickleError(f"it names the Python object {module}.{name}, which a model file never holds")


def safe_loads(data: bytes) -> Any:
    """Unpickle bytes (Python 2 or 3 pickles; Python 2 strings are read as latin1)."""
    return SafeUnpickler(io.BytesIO(data), encoding="latin1").load()


class ConversionError(ValueError):
    """A chumpy or sparse holder that cannot become a numpy array."""


def sparse_to_dense(holder: SparseMatrixObject) -> np.ndarray:
    state = holder.get_state()
    fmt = holder.class_path.rsplit(".", 1)[-1].split("_")[0]
    shape = state.get("_shape", state.get("shape"))
    if shape is None or len(tuple(shape)) != 2:
        raise ConversionError(f"a scipy sparse matrix ({holder.class_path}) without a 2-D shape")
    try:
        rows, cols = (int(s) for s in shape)
    except (TypeError, ValueError, OverflowError):
        raise ConversionError(
            f"a scipy sparse matrix ({holder.class_path}) with a shape that is not two sizes"
        ) from None
    if rows < 0 or cols < 0 or rows * cols > MAX_DENSE_ELEMENTS:
        raise ConversionError(f"a scipy sparse matrix of shape {rows}x{cols}, beyond any body model")
    data = _numbers(state.get("data"), "data")
    dense = np.zeros((rows, cols), dtype=np.float64)
    if fmt == "coo":
        coords = state.get("coords", (None, None))
        if not isinstance(coords, list | tuple) or len(coords) != 2:
            raise ConversionError("a scipy COO matrix without row and column indices")
        row = _indices(state.get("row", coords[0]), "row")
        col = _indices(state.get("col", coords[1]), "col")
        if row.shape != data.shape or col.shape != data.shape:
            raise ConversionError("a scipy COO matrix whose row/col/data lengths disagree")
        if row.size and (row.min() < 0 or row.max() >= rows or col.min() < 0 or col.max() >= cols):
            raise ConversionError(f"a scipy COO matrix with indices outside its shape {rows}x{cols}")
        np.add.at(dense, (row, col), data)
        return dense
    indices = _indices(state.get("indices"), "indices")
    indptr = _indices(state.get("indptr"), "indptr")
    major = cols if fmt == "csc" else rows
    minor = rows if fmt == "csc" else cols
    if (
        indptr.shape != (major + 1,)
        or indices.shape != data.shape
        or (indices.size and (indices.max() >= minor or indices.min() < 0))
    ):
        raise ConversionError(
            f"a scipy {fmt.upper()} matrix whose index arrays do not match its shape {rows}x{cols}"
        )
    if indptr[0] != 0 or indptr[-1] != data.size or np.any(np.diff(indptr) < 0):
        raise ConversionError(f"a scipy {fmt.upper()} matrix with a broken index pointer")
    majors = np.repeat(np.arange(major), np.diff(indptr))
    if fmt == "csc":
        np.add.at(dense, (indices, majors), data)
    else:
        np.add.at(dense, (majors, indices), data)
    return dense


def _numbers(value: Any, key: str) -> np.ndarray:
    if value is None:
        raise ConversionError(f"a scipy sparse matrix without its '{key}' array")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise ConversionError(f"a scipy sparse matrix whose '{key}' is not an array") from None
    if array.dtype.kind not in "biuf" or array.ndim != 1:
        raise ConversionError(f"a scipy sparse matrix whose '{key}' is not a list of numbers")
    return array


def _indices(value: Any, key: str) -> np.ndarray:
    array = _numbers(value, key)
    if array.dtype.kind == "f":
        raise ConversionError(f"a scipy sparse matrix whose '{key}' holds non-integers")
    return array.astype(np.int64)


class _Walk:
    """One conversion: shared objects are converted once (the memo's sharing survives), and the
    depth and the number of objects are bounded."""

    def __init__(self) -> None:
        self.done: dict[int, Any] = {}
        self.keep: list[Any] = []  # keeps ids stable while the walk runs
        self.visited = 0

    def convert(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ConversionError(f"a structure nested more than {MAX_DEPTH} levels deep")
        if not isinstance(value, dict | list | tuple | _Holder):
            return value
        key = id(value)
        if key in self.done:
            return self.done[key]
        self.visited += 1
        if self.visited > MAX_OBJECTS:
            raise ConversionError(f"more than {MAX_OBJECTS} objects, far more than a body model holds")
        out = self._convert_new(value, depth)
        self.done[key] = out
        self.keep.append(value)
        return out

    def _convert_new(self, value: Any, depth: int) -> Any:
        if isinstance(value, ChumpyObject):
            state = value.get_state()
            if "x" not in state:
                raise ConversionError(
                    f"an unevaluated chumpy expression ({value.class_path}) instead of an array"
                )
            inner = self.convert(state["x"], depth + 1)
            if isinstance(inner, list | tuple):
                try:
                    leaf_count(inner)
                except InputError as exc:
                    raise ConversionError(f"a chumpy array ({value.class_path}) that {exc.problem}") from None
            return np.asarray(inner)
        if isinstance(value, SparseMatrixObject):
            return sparse_to_dense(value)
        if isinstance(value, _Holder):
            return value
        if isinstance(value, dict):
            return {k: self.convert(v, depth + 1) for k, v in value.items()}
        return type(value)(self.convert(v, depth + 1) for v in value)


def to_numpy_tree(value: Any) -> Any:
    """Replace chumpy holders by their ``x`` array and sparse holders by dense arrays, recursively
    through dicts, lists and tuples. Chumpy expressions without a stored value, shared-reference
    blow-ups, deep nesting and oversized sparse matrices raise ConversionError."""
    try:
        return _Walk().convert(value, 0)
    except RecursionError:
        raise ConversionError("a structure nested too deeply") from None
