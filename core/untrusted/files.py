"""Open only regular files, and never read more than a bound.

A named pipe at the chosen path would block ``open`` until a writer comes (Blender freezes); a link
to ``/dev/zero`` reads until memory runs out. So: ``os.stat`` (which follows links) must say
regular file, the open is non-blocking, ``fstat`` on the open descriptor says the same again (the
path may have changed in between), and reads stop at a size bound.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .errors import InputError

MIB = 1 << 20
GIB = 1 << 30


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def check_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> int:
    """The size of ``path`` when it is a regular file (a link to one is fine) within ``max_bytes``;
    raises InputError otherwise."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError("does not exist", path) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({(exc.strerror or 'error').lower()})", path) from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(_kind(info.st_mode), path)
    if max_bytes is not None and info.st_size > max_bytes:
        raise InputError(
            f"is {_size(info.st_size)}, more than the {_size(max_bytes)} such a file may be", path
        )
    return info.st_size


def is_regular(path: str | os.PathLike[str]) -> bool:
    """True for a regular file (or a link to one); never blocks, never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def open_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> BinaryIO:
    """A binary handle on a regular file within ``max_bytes``; refuses pipes, devices and folders
    without blocking on them."""
    check_regular(path, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"cannot be opened ({(exc.strerror or 'error').lower()})", path) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(_kind(info.st_mode), path)
        if max_bytes is not None and info.st_size > max_bytes:
            raise InputError(f"is larger than the {_size(max_bytes)} such a file may be", path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: blocking reads are what buffered IO expects
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The whole file, refusing anything but a regular file of at most ``max_bytes``."""
    with open_regular(path, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we read it
        raise InputError(f"is larger than the {_size(max_bytes)} such a file may be", path)
    return data


def read_text(path: str | os.PathLike[str], max_bytes: int) -> str:
    """The file as UTF-8 text (a byte-order mark is dropped)."""
    data = read_bytes(path, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text", path) from None


def _size(count: int) -> str:
    if count >= GIB:
        return f"{count / GIB:.1f} GiB"
    if count >= MIB:
        return f"{count / MIB:.1f} MiB"
    return f"{count} bytes"
