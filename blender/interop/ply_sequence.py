"""Per-frame 3DGS PLY files of deformed avatars and 4D sequences over a frame range (any 3DGS
viewer or engine plug-in that plays PLY sequences reads them).

Each frame is deformed exactly as the GAVATAR engine's numpy path draws it (engine/splats/
runtime.py: the depsgraph-evaluated driver mesh, dynamics on when the object uses them), then
placed in Blender world coordinates (or Y-up) with covariances mapped and SH bands rotated
(core/avatar/transform.py). Splat objects playing a baked 4D sequence write the frame they show
at each scene frame (engine/splats/sequence.py). Every file is written atomically: an existing
file is replaced whole or not at all, and a failure leaves the files of the frames before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np
from bpy.types import Context, Object

from ...core.avatar.gaussians import GaussianSet
from ...core.avatar.ply import write_ply
from ...core.avatar.transform import Y_UP_FROM_Z_UP, transform_gaussians
from ...engine.splats import data as splat_data
from ...engine.splats.runtime import SplatSource

Progress = Callable[[int, int], None]  # (frames done, frames in all)


class SequenceExportError(ValueError):
    """A sequence that cannot be written; one sentence."""


@dataclass
class SequenceResult:
    files: list[Path] = field(default_factory=list)
    num_gaussians: int = 0
    seconds: float = 0.0


def frame_file(directory: Path, prefix: str, frame: int) -> Path:
    return directory / f"{prefix}{frame:06d}.ply"


def _concatenate(sets: list[GaussianSet]) -> GaussianSet:
    if len(sets) == 1:
        return sets[0]
    degree = max(g.sh_degree for g in sets)
    sets = [g.with_sh_degree(degree) for g in sets]
    fields = [g.fields() for g in sets]
    return GaussianSet(**{name: np.concatenate([f[name] for f in fields]) for name in fields[0]})


def frame_gaussians(
    sources: list[tuple[Object, SplatSource]], depsgraph: bpy.types.Depsgraph, y_up: bool
) -> GaussianSet:
    """The objects' Gaussians of the depsgraph's frame in world (or Y-up) coordinates."""
    sets = []
    for obj, source in sources:
        if source.is_sequence:
            local = source.sequence_gaussians(source.sequence_frame(depsgraph))
        elif source.is_bound:
            local = source.pose_cpu(source.vertices(depsgraph), source.dynamics_features(depsgraph))
        else:
            local = source.arrays.gaussians()
        matrix = np.array(obj.evaluated_get(depsgraph).matrix_world, dtype=np.float64)
        if y_up:
            matrix = Y_UP_FROM_Z_UP @ matrix
        sets.append(transform_gaussians(local, matrix))
    return _concatenate(sets)


def export_sequence(
    context: Context,
    objects: list[Object],
    directory: str | Path,
    frame_start: int,
    frame_end: int,
    *,
    prefix: str = "",
    y_up: bool = False,
    progress: Progress | None = None,
) -> SequenceResult:
    """Writes ``{prefix}{frame:06d}.ply`` for every frame in [frame_start, frame_end]; the scene
    returns to its current frame afterwards."""
    if frame_end < frame_start:
        raise SequenceExportError(f"the frame range {frame_start}..{frame_end} is empty")
    splats = [obj for obj in objects if splat_data.is_splat_object(obj)]
    if not splats:
        raise SequenceExportError("no splat objects to export")
    folder = Path(directory).expanduser()
    if folder.exists() and not folder.is_dir():
        raise SequenceExportError(f"'{folder}' is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    prefix = prefix or (splats[0].name if len(splats) == 1 else "avatar") + "_"
    sources = [(obj, SplatSource(obj)) for obj in splats]  # read the stored Gaussians once
    scene = context.scene
    current = scene.frame_current
    result = SequenceResult()
    started = time.perf_counter()
    total = frame_end - frame_start + 1
    try:
        for index, frame in enumerate(range(frame_start, frame_end + 1)):
            scene.frame_set(frame)
            gaussians = frame_gaussians(sources, context.evaluated_depsgraph_get(), y_up)
            path = frame_file(folder, prefix, frame)
            write_ply(
                path, gaussians.astype(np.float32), comment=f"Gaussian Avatar for Blender, frame {frame}"
            )
            result.files.append(path)
            result.num_gaussians = len(gaussians)
            if progress is not None:
                progress(index + 1, total)
    finally:
        scene.frame_set(current)
    result.seconds = time.perf_counter() - started
    return result
