"""Temporary files of our atomic writes that a killed export left behind, and their cleaning.

An export writes ``.NAME.PID-XXXXXXXX.tmp`` beside its target (``atomic.temporary_prefix``) and
renames it over the target at the end; SIGKILL or a power cut between the two leaves it behind,
often tens of MB. The next export to the same folder removes such files: only regular files whose
names match the pattern, and only when their writer process is gone or they are older than
``STALE_AFTER_S`` (a name without a PID, from older versions, is judged by age alone). A writer
running right now keeps its file: its PID is alive and its file is fresh.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from pathlib import Path

STALE_AFTER_S = 600.0
# mkstemp's random part is 8 characters of [a-z0-9_].
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>[0-9]{1,10})-)?[a-z0-9_]{8}\.tmp$")


def temporary_prefix(target_name: str) -> str:
    """The mkstemp prefix of an atomic write of ``target_name`` by this process."""
    return f".{target_name}.{os.getpid()}-"


def _process_gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # alive, under another user
    return False


def is_stale(path: Path, now: float | None = None, stale_after: float = STALE_AFTER_S) -> bool:
    """True for one of our temporary files that no live writer can still be writing."""
    match = TEMP_NAME.match(path.name)
    if match is None:
        return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode):
        return False  # never follow a link or touch a pipe
    age = (time.time() if now is None else now) - info.st_mtime
    if age > stale_after:
        return True
    pid = match.group("pid")
    return pid is not None and _process_gone(int(pid))


def clean_stale_temporaries(folder: str | os.PathLike[str], stale_after: float = STALE_AFTER_S) -> list[Path]:
    """Remove our stale temporary files in ``folder``; returns what was removed. Never raises."""
    removed: list[Path] = []
    now = time.time()
    try:
        with os.scandir(folder) as entries:
            candidates = [Path(e.path) for e in entries if e.name.startswith(".") and e.name.endswith(".tmp")]
    except OSError:
        return removed
    for path in candidates:
        if is_stale(path, now, stale_after):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed
