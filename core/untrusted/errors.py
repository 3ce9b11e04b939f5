"""The one error of the untrusted-file layer, and the bridge to each importer's own error class."""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

# What a damaged file can raise from inside numpy, zipfile, zlib, json, pickle or PIL. Readers catch
# exactly these (not Exception) around the parsing of a file, so a bug of ours still shows as one.
DAMAGED: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    EOFError,
    OSError,
    MemoryError,
    OverflowError,
    RecursionError,
    NotImplementedError,
    UnicodeError,
    zlib.error,
    struct.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    pickle.UnpicklingError,
)


class InputError(ValueError):
    """Something in an untrusted file we refuse. ``problem`` is a phrase: "has NaN values in 'x'"."""

    def __init__(self, problem: str, path: str | os.PathLike[str] | None = None) -> None:
        self.problem = problem.strip().rstrip(".")
        self.path = None if path is None else os.fspath(path)
        super().__init__(self.sentence())

    def sentence(self) -> str:
        if self.path is None:
            return f"The file {self.problem}."
        return f"'{display_name(self.path)}' {self.problem}."


def display_name(path: str | os.PathLike[str] | bytes) -> str:
    """A file's name fit for a message: its last part, undecodable bytes shown as '?', and cut
    short so a hostile name cannot fill the report."""
    raw = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    name = Path(raw).name or raw
    safe = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\ufffd", "?")
    safe = "".join(ch if ch.isprintable() else "?" for ch in safe)
    return safe if len(safe) <= 80 else safe[:77] + "..."


def display_path(path: str | os.PathLike[str] | bytes, limit: int = 240) -> str:
    """A whole path fit for a message: undecodable bytes as '?', unprintable characters as '?'."""
    raw = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    safe = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\ufffd", "?")
    safe = "".join(ch if ch.isprintable() else "?" for ch in safe)
    return safe if len(safe) <= limit else "..." + safe[-(limit - 3) :]


def short(text: object, limit: int = 80) -> str:
    """A value quoted in a message, cut short (a 10 KB header line must not fill the report)."""
    value = str(text)
    value = "".join(ch if ch.isprintable() else "?" for ch in value)
    return value if len(value) <= limit else value[: limit - 3] + "..."


ErrorFactory = Callable[[str, str], Exception]


@contextlib.contextmanager
def reading(path: str | os.PathLike[str], make_error: ErrorFactory, what: str = "") -> Iterator[None]:
    """Turn an ``InputError`` (or a damaged-file exception from a library) raised inside the block
    into ``make_error(name, problem)``: the importer's own error class. ``name`` is the file's
    display name, ``problem`` a phrase ("has NaN values in 'poses'") without a full stop."""
    name = display_name(path)
    try:
        yield
    except InputError as exc:
        where = display_name(exc.path) if exc.path is not None else name
        raise make_error(where, exc.problem) from None
    except RecursionError:
        raise make_error(name, "is nested too deeply to read") from None
    except MemoryError:
        raise make_error(name, "needs more memory than a file of its kind may") from None
    except DAMAGED as exc:
        kind = f" {what}" if what else ""
        error = make_error(name, f"is not a readable{kind} file ({describe(exc)})")
        if isinstance(exc, type(error)):
            raise  # already the importer's own sentence
        raise error from None


def describe(exc: BaseException) -> str:
    """A library's exception as a short phrase, without the Python class name or a long quote."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, zlib.error):
        return "its compressed data is damaged"
    if isinstance(exc, zipfile.BadZipFile | struct.error):
        return "the archive is damaged or truncated"
    if isinstance(exc, NotImplementedError):
        return "it uses a compression or format version this reader does not know"
    if isinstance(exc, EOFError):
        return "it ends early"
    if isinstance(exc, UnicodeError):
        return "it holds text that is not valid UTF-8"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return short(text.rstrip("."), 100) or "its contents are damaged"
