"""Splat objects that play a baked 4D sequence (core/avatar/sequence_file.py).

Such an object stores one frame of the sequence in its mesh (so it draws, saves and exports like
any static splat object) and names its ``.gavatar4d`` file in ``gavatar_splat.sequence_path``;
the engine, the PLY exports and every caller of engine/splats/runtime.py swap in the frame that
the scene frame shows (``sequence_start`` is the scene frame of sequence frame 0; the sequence's
fps is mapped onto the scene's). Files are opened once and read frame by frame from the mapped
file (``open_sequence`` caches them by path and modification time).
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy.types import Object, Scene

from ...core.avatar.sequence_file import SequenceFile, SequenceFileError, frame_index
from . import data as splat_data

_OPEN: dict[str, tuple[float, SequenceFile]] = {}


def sequence_path(obj: Object) -> Path | None:
    """The absolute path of the object's sequence file, or None for ordinary splat objects."""
    text = str(splat_data.settings(obj).sequence_path)
    if not text:
        return None
    library = obj.library.filepath if obj.library is not None else None
    return Path(bpy.path.abspath(text, library=library))  # type: ignore[arg-type]


def open_sequence(path: Path) -> SequenceFile:
    """The open file at ``path`` (reopened when it changed on disk); SequenceFileError if unusable."""
    key = str(path)
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        _OPEN.pop(key, None)
        raise SequenceFileError(f"the sequence file {path} is missing") from None
    cached = _OPEN.get(key)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    sequence = SequenceFile(path)
    _OPEN[key] = (mtime, sequence)
    return sequence


def forget(path: Path | None = None) -> None:
    """Drop cached files (all, or one): the next use opens them again."""
    if path is None:
        _OPEN.clear()
    else:
        _OPEN.pop(str(path), None)


def scene_fps(scene: Scene) -> float:
    return float(scene.render.fps) / float(scene.render.fps_base or 1.0)


def frame_of(obj: Object, scene: Scene, sequence: SequenceFile) -> int:
    """The sequence frame the object shows at the scene's current frame."""
    props = splat_data.settings(obj)
    now = scene.frame_current + scene.frame_subframe
    return frame_index(
        now,
        int(props.sequence_start),
        scene_fps(scene),
        sequence.fps,
        sequence.num_frames,
        bool(props.sequence_loop),
    )
