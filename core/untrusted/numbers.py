"""Plausible bounds for the numbers that size the work an import does.

One number in a file can ask for hundreds of thousands of keyframes (``fps = 1e-6``) or gigabytes
(a 10^6 x 10^6 matrix): these bounds turn such a file into a refusal before the work starts.
"""

from __future__ import annotations

from typing import Any

from .arrays import scalar
from .errors import InputError

MAX_FPS = 1000.0
MIN_FPS = 0.1  # below this a clip of a few frames spans hours of keys
MAX_FRAMES = 1_000_000
MAX_DURATION_S = 3600.0  # motion clips last seconds to minutes; an hour is far beyond any
MAX_KEYFRAMES = 250_000  # frames an import may key after resampling (over an hour at 60 fps)


def frame_rate(value: Any, key: str = "fps") -> float:
    """A frame rate in [0.1, 1000] per second."""
    return scalar(value, key, low=MIN_FPS, high=MAX_FPS)


def check_duration(frames: int, fps: float, what: str = "clip") -> float:
    """The duration of ``frames`` at ``fps``; InputError past the bound."""
    if frames > MAX_FRAMES:
        raise InputError(f"has {frames} frames, more than the {MAX_FRAMES} a {what} may have")
    seconds = max(frames - 1, 0) / fps
    if seconds > MAX_DURATION_S:
        raise InputError(f"lasts {seconds / 3600:.1f} hours at {fps:g} fps, longer than a {what} may")
    return seconds
