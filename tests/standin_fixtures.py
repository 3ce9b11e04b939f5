"""Session fixtures with the free stand-in rigs, built once into the cache folder if missing.

Use them from any test module with
    from tests.standin_fixtures import standin_dir, standin_paths  # noqa: F401
The build runs ``python -m training.standins`` (about 70 s the first time, then a quick check that the
files are current), under a file lock so parallel pytest workers build once. Tests skip when the
Python running them cannot import anny.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.paths import standins_dir as _standins_folder
from engine.rig.standins import STANDIN_FILES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def standin_dir() -> Iterator[Path]:
    """The cache folder holding current stand-in files (built here if needed)."""
    folder = _standins_folder()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / "standins.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        result = subprocess.run(
            [sys.executable, "-m", "training.standins", "--out", str(folder)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        fcntl.flock(lock, fcntl.LOCK_UN)
    if result.returncode == 2:
        pytest.skip(f"stand-ins need anny: {result.stderr.strip()}")
    if result.returncode != 0:
        raise RuntimeError(f"building the stand-ins failed:\n{result.stdout}\n{result.stderr}")
    yield folder


@pytest.fixture(scope="session")
def standin_paths(standin_dir: Path) -> dict[str, Path]:
    """{'FLAME': path, 'SMPLX': path, 'SMPLH': path}."""
    return {family: standin_dir / name for family, name in STANDIN_FILES.items()}
