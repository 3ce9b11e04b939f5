"""Read the arrays of a NumPy .npz archive without ``allow_pickle``.

The official SMPL-X .npz files hold a few object arrays (dictionaries such as ``joint2num``);
``np.load(..., allow_pickle=True)`` would unpickle them with the full pickle machinery. Here plain
arrays are read by NumPy itself and object arrays through the restricted ``SafeUnpickler``.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from .safe_pickle import SafeUnpickler


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _read_member(raw: bytes) -> Any:
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:  # (3, 0): utf-8 header, no public reader
        shape, fortran, dtype = np.lib.format._read_array_header(stream, version)  # type: ignore[attr-defined]
    if not dtype.hasobject:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    value = SafeUnpickler(stream, encoding="latin1").load()
    array = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if array.size == int(np.prod(shape)):
        array = array.reshape(shape, order="F" if fortran else "C")
    return array


def read_npz(data: bytes) -> dict[str, Any]:
    """All members of an .npz archive given as bytes, keyed without the '.npy' suffix.

    Raises zipfile.BadZipFile for a damaged archive, ValueError/EOFError for a damaged member, and
    safe_pickle.UnsafePickleError for an object member naming a forbidden class.
    """
    out: dict[str, Any] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            key = name[:-4] if name.endswith(".npy") else name
            out[key] = _read_member(archive.read(name))
    return out
