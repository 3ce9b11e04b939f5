"""Temporary files a killed export left are removed by the next export to the same folder; other
files, live writers' files and links are never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from core.avatar.atomic import atomic_write
from core.avatar.stale_temps import clean_stale_temporaries, temporary_prefix


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_next_export_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    dead = tmp_path / f".avatar.gavatar.{_dead_pid()}-abcd1234.tmp"
    dead.write_bytes(b"x" * 1000)
    old = tmp_path / ".avatar.gavatar.k2j4h5g6.tmp"  # an older version's name: no PID
    old.write_bytes(b"x")
    past = time.time() - 3600
    os.utime(old, (past, past))
    fresh = tmp_path / ".other.ply.q1w2e3r4.tmp"  # no PID, fresh: maybe a writer of another build
    fresh.write_bytes(b"x")
    live = tmp_path / f"{temporary_prefix('x.gavatar')}zzzz9999.tmp"  # this process: alive
    live.write_bytes(b"x")
    mine = tmp_path / ".notes.tmp"  # not our pattern
    mine.write_bytes(b"x")
    link = tmp_path / ".link.gavatar.abcd1234.tmp"
    link.symlink_to(old)
    os.utime(link, (past, past), follow_symlinks=False)
    with atomic_write(tmp_path / "avatar.gavatar") as handle:
        handle.write(b"new")
    assert not dead.exists() and not old.exists()
    assert fresh.exists() and live.exists() and mine.exists() and link.is_symlink()
    assert (tmp_path / "avatar.gavatar").read_bytes() == b"new"


def test_cleaning_a_missing_folder_does_nothing(tmp_path: Path) -> None:
    assert clean_stale_temporaries(tmp_path / "none") == []
