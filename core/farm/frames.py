"""Frame lists and their text form, in the notation Flamenco and Blender's command line use.

``"1-8,10,12-20"`` (or Blender's ``1..8``): ranges and single frames separated by commas. Chunks
follow Flamenco's own frame chunker: the sorted, de-duplicated frames cut into pieces of at most
``chunk_size`` frames, each written back as ranges (three or more consecutive frames), pairs and
singles, so a chunk string made here equals the one Flamenco Manager makes.
"""

from __future__ import annotations

import math
import re

_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:\.\.|-)\s*(-?\d+)\s*$")
_SINGLE = re.compile(r"^\s*(-?\d+)\s*$")


class FrameSpecError(ValueError):
    """A frame list that cannot be read, or an empty one."""


def frame_list(start: int, end: int, step: int = 1) -> list[int]:
    if step < 1:
        raise FrameSpecError("The frame step must be at least 1.")
    if end < start:
        raise FrameSpecError(f"The frame range {start}..{end} is empty.")
    return list(range(start, end + 1, step))


def parse_frames(text: str) -> list[int]:
    """'1-8,10' -> [1..8, 10], sorted and without duplicates. Negative frames work in ranges
    written with '..' ('-5..-1'); with '-' only non-negative ranges are unambiguous."""
    frames: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        single = _SINGLE.match(part)
        if single:
            frames.add(int(single.group(1)))
            continue
        ranged = _RANGE.match(part)
        if not ranged:
            raise FrameSpecError(f"Cannot read the frames '{part.strip()}' in '{text}'.")
        first, last = int(ranged.group(1)), int(ranged.group(2))
        if last < first:
            raise FrameSpecError(f"The frame range '{part.strip()}' is empty.")
        frames.update(range(first, last + 1))
    if not frames:
        raise FrameSpecError(f"No frames in '{text}'.")
    return sorted(frames)


def format_frames(frames: list[int]) -> str:
    """Sorted frames as ranges of three or more, pairs and singles: [1,2,3,5,6,9] -> '1-3,5,6,9'."""
    ordered = sorted(set(frames))
    if not ordered:
        raise FrameSpecError("No frames to write.")
    parts: list[str] = []
    first = previous = ordered[0]
    for frame in ordered[1:] + [None]:  # type: ignore[list-item]
        if frame is not None and frame == previous + 1:
            previous = frame
            continue
        if previous - first >= 2:
            parts.append(f"{first}-{previous}")
        else:
            parts.extend(str(f) for f in range(first, previous + 1))
        if frame is not None:
            first = previous = frame
    return ",".join(parts)


def split_chunks(frames: list[int], chunk_size: int) -> list[list[int]]:
    """Consecutive pieces of at most chunk_size frames, in order."""
    if chunk_size < 1:
        raise FrameSpecError("The chunk size must be at least 1.")
    return [frames[i : i + chunk_size] for i in range(0, len(frames), chunk_size)]


def auto_chunk_size(frame_count: int, workers: int) -> int:
    """One chunk per worker: every chunk pays a Blender start-up, so fewer is faster."""
    return max(1, math.ceil(frame_count / max(1, workers)))


def arithmetic_runs(frames: list[int]) -> list[tuple[int, int, int]]:
    """Frames as (start, end, step) runs for Blender's animation render: [1,11,21,25,26] ->
    [(1, 21, 10), (25, 26, 1)]. Greedy, in order."""
    runs: list[tuple[int, int, int]] = []
    i = 0
    ordered = sorted(set(frames))
    while i < len(ordered):
        start = ordered[i]
        if i + 1 == len(ordered):
            runs.append((start, start, 1))
            break
        step = ordered[i + 1] - start
        j = i + 1
        while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] == step:
            j += 1
        runs.append((start, ordered[j], step))
        i = j + 1
    return runs
