"""The trainer's progress protocol (training/README.md): one JSON object per stdout line.

``parse_line`` turns a line into a ``TrainerEvent``; anything that is not a JSON object with an
``event`` key (a stray print from a broken environment) comes back as None so the caller can log
it, never as an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

KNOWN_EVENTS = frozenset(
    {
        "start",
        "stage",
        "progress",
        "preview",
        "checkpoint",
        "eval",
        "done",
        "stopped",
        "error",
        "frame",
        "info",
    }
)


@dataclass(frozen=True)
class TrainerEvent:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def number(self, key: str) -> float | None:
        """A finite number field, or None (the protocol writes non-finite numbers as null)."""
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)


def parse_line(line: str) -> TrainerEvent | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("event"), str):
        return None
    kind = record.pop("event")
    return TrainerEvent(kind, record)
