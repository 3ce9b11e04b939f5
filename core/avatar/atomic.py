"""Atomic file writes: a temporary file beside the target, flushed, then renamed over it.

A reader never sees a half-written file, and a failure mid-write leaves the old file (if any)
untouched and no temporary file behind. What a killed writer left is removed by the next write to
the same folder (stale_temps.py).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .stale_temps import clean_stale_temporaries, temporary_prefix


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a binary temporary file in the target's folder; on clean exit it replaces ``path``."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {target}: folder {folder} does not exist")
    clean_stale_temporaries(folder)
    fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(target.name), suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files: keep an existing file's mode, else the usual 0644.
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
