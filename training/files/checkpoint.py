"""Checkpoints: one torch file written atomically (temporary file in the same folder + rename),
so a kill mid-write leaves the previous checkpoint intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.avatar.atomic import atomic_write
from core.untrusted.errors import describe
from training.errors import CheckpointError

FORMAT = "gaussian-avatar-checkpoint"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:  # also clears what a killed run left in the folder
        torch.save(state, handle)


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(
            f"--resume: no checkpoint at {path}",
            "run without --resume to start, or point --out at the earlier run",
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({describe(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a trainer checkpoint")
    if state.get("version") != 1:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')}, this trainer reads 1")
    return state
