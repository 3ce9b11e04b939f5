"""NumPy .npy / .npz files read header first: dtype, shape and size are checked before a byte of
the array is inflated, and no member may inflate past a bound.

A zip member's declared size can lie, and deflate cannot shrink data more than about 1032:1, so a
member claiming more is refused unread; reads stop at the declared size either way.
"""

from __future__ import annotations

import io
import math
import os
import tokenize
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from .errors import InputError, short
from .files import MIB, open_regular

DEFLATE_MAX_RATIO = 1100  # deflate's own ceiling is 1032:1; a claim above it is forged
MAX_HEADER_BYTES = 10_000  # numpy's own limit for a trusted .npy header
DEFAULT_MEMBER_BYTES = 512 * MIB
DEFAULT_TOTAL_BYTES = 2048 * MIB
ALLOWED_KINDS = "biufcUS"  # bool, ints, floats, complex, text; no objects, no structured records


@dataclass(frozen=True)
class NpyHeader:
    """What a .npy header says, checked to be self-consistent."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


ObjectLoader = Callable[[IO[bytes], NpyHeader], Any]
HeaderCheck = Callable[[NpyHeader], None]


def read_header(stream: IO[bytes], member: str) -> NpyHeader:
    """Parse and check a .npy header; the stream is left at the first data byte."""
    try:
        version = np.lib.format.read_magic(stream)
        # numpy's public readers (numpy 2 hides the private one); version 3.0 only adds UTF-8
        # field names, and record types are refused anyway
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise InputError(f"has array '{member}' in an unknown .npy version {version}")
        shape, fortran, dtype = readers[version](stream, max_header_size=MAX_HEADER_BYTES)  # type: ignore[call-arg]
    except InputError:
        raise
    except (ValueError, EOFError, SyntaxError, TypeError, OverflowError, tokenize.TokenError) as exc:
        # numpy tokenizes the header's dict text: a cut one raises TokenError, not SyntaxError
        raise InputError(f"has a damaged header in array '{member}' ({short(exc, 60)})") from None
    if not isinstance(shape, tuple) or any(not isinstance(n, int) or n < 0 for n in shape):
        raise InputError(f"has array '{member}' with an invalid shape {short(shape, 40)}")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise InputError(f"has array '{member}' of a record type this reader does not take")
    header = NpyHeader(tuple(shape), dtype, bool(fortran))
    if not dtype.hasobject and dtype.kind not in ALLOWED_KINDS:
        raise InputError(f"has array '{member}' of an unusable type {dtype.str}")
    if len(shape) > 8:
        raise InputError(f"has array '{member}' with {len(shape)} dimensions")
    if not dtype.hasobject and dtype.itemsize == 0:
        raise InputError(f"has array '{member}' of an empty element type {dtype.str}")
    return header


def _read_data(stream: IO[bytes], header: NpyHeader, member: str, max_bytes: int) -> np.ndarray:
    count = math.prod(header.shape)
    if count > max_bytes or header.nbytes > max_bytes:
        raise InputError(
            f"has array '{member}' of shape {short(header.shape, 40)}, larger than such a file may hold"
        )
    # Read straight into the array: no second copy of a large member in memory.
    flat = np.empty(count, dtype=header.dtype)
    view = flat.view(np.uint8).data
    got = 0
    while got < header.nbytes:
        chunk = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not chunk:
            raise InputError(f"has array '{member}' cut short (the file is truncated)")
        got += chunk
    if header.fortran:
        return flat.reshape(header.shape, order="F")
    return flat.reshape(header.shape, order="C")


def read_npy_stream(
    stream: IO[bytes],
    member: str,
    *,
    max_bytes: int = DEFAULT_MEMBER_BYTES,
    check: HeaderCheck | None = None,
    load_object: ObjectLoader | None = None,
) -> Any:
    """One array from a .npy stream; ``check`` sees the header before any data is read."""
    header = read_header(stream, member)
    if check is not None:
        check(header)
    if header.dtype.hasobject:
        if load_object is None:
            raise InputError(f"has array '{member}' of Python objects, which cannot be read without pickle")
        return load_object(stream, header)
    return _read_data(stream, header, member, max_bytes)


def _check_member(info: zipfile.ZipInfo, max_bytes: int) -> None:
    if info.flag_bits & 0x1:
        raise InputError(f"has an encrypted member '{short(info.filename, 60)}'")
    if info.file_size > max_bytes:
        raise InputError(
            f"has a member '{short(info.filename, 60)}' that inflates past {max_bytes // MIB} MiB"
        )
    if info.compress_type != zipfile.ZIP_STORED:
        if info.file_size > DEFLATE_MAX_RATIO * max(info.compress_size, 1):
            raise InputError(f"has a member '{short(info.filename, 60)}' with a forged compression ratio")


def read_member(
    archive: zipfile.ZipFile,
    name: str,
    *,
    max_bytes: int = DEFAULT_MEMBER_BYTES,
    check: HeaderCheck | None = None,
    load_object: ObjectLoader | None = None,
) -> Any:
    """One .npy member of an open archive; KeyError when it is absent."""
    info = archive.getinfo(name)
    _check_member(info, max_bytes)
    label = name[:-4] if name.endswith(".npy") else name
    with archive.open(info) as member:
        return read_npy_stream(member, label, max_bytes=max_bytes, check=check, load_object=load_object)


def read_member_bytes(archive: zipfile.ZipFile, name: str, max_bytes: int) -> bytes:
    """A non-array member (a header.json), inflated no further than ``max_bytes``."""
    info = archive.getinfo(name)
    _check_member(info, max_bytes)
    with archive.open(info) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"has a member '{short(name, 60)}' larger than {max_bytes // MIB} MiB")
    return data


def read_archive(
    archive: zipfile.ZipFile,
    *,
    max_member_bytes: int = DEFAULT_MEMBER_BYTES,
    max_total_bytes: int = DEFAULT_TOTAL_BYTES,
    load_object: ObjectLoader | None = None,
) -> dict[str, Any]:
    """Every member of an open .npz archive, keyed without '.npy'."""
    infos = archive.infolist()
    if len(infos) > 10_000:
        raise InputError(f"holds {len(infos)} members, more than any such file has")
    total = sum(info.file_size for info in infos)
    if total > max_total_bytes:
        raise InputError(f"inflates to more than the {max_total_bytes // MIB} MiB such a file may")
    out: dict[str, Any] = {}
    for info in infos:
        if info.is_dir():
            continue
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        out[key] = read_member(archive, info.filename, max_bytes=max_member_bytes, load_object=load_object)
    return out


def read_npz(
    source: str | os.PathLike[str] | bytes,
    *,
    max_file_bytes: int = DEFAULT_TOTAL_BYTES,
    max_member_bytes: int = DEFAULT_MEMBER_BYTES,
    max_total_bytes: int = DEFAULT_TOTAL_BYTES,
    load_object: ObjectLoader | None = None,
) -> dict[str, Any]:
    """All arrays of an .npz (a path or its bytes); InputError for anything we refuse."""
    if isinstance(source, bytes):
        handle: IO[bytes] = io.BytesIO(source)
    else:
        handle = open_regular(source, max_file_bytes)
    with handle, zipfile.ZipFile(handle) as archive:
        return read_archive(
            archive,
            max_member_bytes=max_member_bytes,
            max_total_bytes=max_total_bytes,
            load_object=load_object,
        )
