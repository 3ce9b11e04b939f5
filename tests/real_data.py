"""Locates ../shared/real (real third-party files, read in place, never copied into the repo).

Tests skip cleanly when it is absent. Worktrees live elsewhere than the main checkout, so the
folder beside the git common directory's checkout is tried too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _candidates() -> list[Path]:
    found = [ROOT.parent / "shared" / "real"]
    try:
        common = subprocess.run(
            ["git", "rev-parse", "--git-common-dir"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if common:
            found.append((ROOT / common).resolve().parent.parent / "shared" / "real")
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def real_file(name: str) -> Path | None:
    for folder in _candidates():
        if (folder / name).exists():
            return folder / name
    return None
