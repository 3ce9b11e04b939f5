"""What a distributed render has to do: the frames still missing on disk, cut into chunks.

The frame paths come from Blender (``RenderSettings.frame_path``) so the naming is Blender's own;
this module only decides. A frame counts as rendered when its file exists and is not empty
(Blender's "placeholder" files are empty), so a re-run renders only what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .frames import FrameSpecError, auto_chunk_size, split_chunks


@dataclass
class RenderPlan:
    frames: list[int]  # every frame asked for
    chunks: list[list[int]]  # the frames to render, cut into worker chunks
    skipped: list[int] = field(default_factory=list)  # already on disk

    @property
    def to_render(self) -> int:
        return sum(len(c) for c in self.chunks)


def is_rendered(path: str | os.PathLike[str]) -> bool:
    try:
        return os.path.isfile(path) and os.path.getsize(path) > 0
    except OSError:
        return False


def plan_render(
    frames: list[int],
    frame_paths: Mapping[int, str],
    *,
    workers: int,
    chunk_size: int = 0,
    overwrite: bool = False,
) -> RenderPlan:
    """chunk_size 0: one chunk per worker over the frames still to render."""
    if not frames:
        raise FrameSpecError("No frames to render.")
    if workers < 1:
        raise FrameSpecError("At least one worker is needed.")
    missing = [f for f in frames if f not in frame_paths]
    if missing:
        raise FrameSpecError(f"No output path for frames {missing[:5]}.")
    skipped = [] if overwrite else [f for f in frames if is_rendered(frame_paths[f])]
    done = set(skipped)
    todo = [f for f in frames if f not in done]
    if not todo:
        return RenderPlan(frames=list(frames), chunks=[], skipped=skipped)
    size = chunk_size if chunk_size > 0 else auto_chunk_size(len(todo), workers)
    return RenderPlan(frames=list(frames), chunks=split_chunks(todo, size), skipped=skipped)
