"""Checks made before a trainer starts, each giving one sentence a user can act on (or None)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from ..paths import check_trainer_python

MIN_FREE_BYTES = 512 * 2**20  # a checkpoint, previews and the avatar of a large run fit in this


def trainer_python_problem(python: str) -> str | None:
    return check_trainer_python(python)


def prepare_output_dir(path: str) -> str | None:
    """Creates the output folder and proves it writable (a temporary file written and removed)."""
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        return f"Output folder '{folder}' is not writable: {exc.strerror or exc}."
    return None


def disk_space_problem(path: str, minimum: int = MIN_FREE_BYTES) -> str | None:
    folder = Path(path).expanduser()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None  # cannot tell: the trainer will say if it runs out
    if free < minimum:
        return (
            f"Only {free / 2**20:.0f} MB free on the disk of '{path}'; training needs at least "
            f"{minimum / 2**20:.0f} MB: free some space or choose another output folder."
        )
    return None


def safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "avatar"
    return name[:60]


def default_output_dir(cache_dir: str, name: str, now: float | None = None) -> str:
    """<cache>/runs/<name>_<YYYYmmdd-HHMMSS> (a suffix when that exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = Path(cache_dir).expanduser() / "runs" / f"{safe_name(name)}_{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return os.fspath(candidate)
