"""Read the arrays of a NumPy .npz archive without ``allow_pickle``.

The official SMPL-X .npz files hold a few object arrays (dictionaries such as ``joint2num``);
``np.load(..., allow_pickle=True)`` would unpickle them with the full pickle machinery. Here plain
arrays are read through core/untrusted/npz (header checked before any data is inflated) and object
arrays through the restricted ``SafeUnpickler``.
"""

from __future__ import annotations

import math
from typing import IO, Any

import numpy as np

from ..untrusted.arrays import leaf_count
from ..untrusted.files import GIB
from ..untrusted.npz import NpyHeader
from ..untrusted.npz import read_npz as read_checked_npz
from .safe_pickle import SafeUnpickler

MAX_MEMBER_BYTES = GIB  # the largest official model arrays (SMPL-X posedirs) are about 120 MiB


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _load_object(stream: IO[bytes], header: NpyHeader) -> Any:
    value = SafeUnpickler(stream, encoding="latin1").load()
    if isinstance(value, list | tuple):
        leaf_count(value)  # a shared-reference blow-up would hang np.asarray
    array = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if array.size == math.prod(header.shape):
        array = array.reshape(header.shape, order="F" if header.fortran else "C")
    return array


def read_npz(data: bytes) -> dict[str, Any]:
    """All members of an .npz archive given as bytes, keyed without the '.npy' suffix.

    Raises core.untrusted.InputError for what it refuses (sizes, types, damage it can name),
    zipfile.BadZipFile / zlib.error / NotImplementedError for a damaged archive, and
    safe_pickle.UnsafePickleError for an object member naming a forbidden class.
    """
    return read_checked_npz(
        data, max_member_bytes=MAX_MEMBER_BYTES, max_total_bytes=4 * GIB, load_object=_load_object
    )
