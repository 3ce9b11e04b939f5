"""Where this process sits in a launch, from the launcher's environment alone (no torch import):
``python -m training fit`` reads it before its signal handlers and heavy imports."""

from __future__ import annotations

import os

from training.errors import DistributedError


def launched_ranks() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the launcher's environment (torchrun sets all three)."""

    def number(name: str, default: int) -> int:
        text = os.environ.get(name, "")
        try:
            return int(text) if text else default
        except ValueError:
            raise DistributedError(f"{name}={text!r} is not a number") from None

    size = number("WORLD_SIZE", 1)
    rank = number("RANK", 0)
    local = number("LOCAL_RANK", rank)
    if size < 1 or not 0 <= rank < size:
        raise DistributedError(f"RANK={rank} does not fit WORLD_SIZE={size}")
    return rank, size, local
