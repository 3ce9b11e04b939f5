"""A baked 4D sequence (``.gavatar4d``, core/avatar/sequence_file.py) as a splat object that
follows the scene frame (engine/splats/sequence.py).

The object stores the sequence's first frame in its mesh and names the file (relative to the
.blend when it is saved and the option is on); the sequence is checked whole before anything is
made (every checksum, finite values), so a damaged file is refused with nothing created. Y-up
sequences (the dataset world of the trainer) get the usual Y-up -> Z-up turn on the object.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import bpy
from bpy.types import Context, Object

from ...core.avatar.sequence_file import SequenceFile
from ...engine.splats import data as splat_data
from ...engine.splats import sequence as splat_sequence
from ...engine.splats.data import SplatArrays

Y_UP_ROTATION = (math.radians(90.0), 0.0, 0.0)


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def import_sequence(
    context: Context,
    filepath: str | Path,
    *,
    name: str | None = None,
    start: int | None = None,
    set_frame_range: bool = True,
    relative_path: bool = True,
) -> Object:
    """Makes the splat object; raises SequenceFileError / SplatDataError (nothing made then)."""
    path = Path(os.path.abspath(bpy.path.abspath(str(filepath))))  # a link keeps its own name
    splat_sequence.forget(path)
    sequence = SequenceFile(path)
    sequence.verify()
    arrays = SplatArrays.from_gaussians(sequence.gaussians(0))
    scene = context.scene
    assert scene is not None
    obj = splat_data.create_splat_object(
        name or path.name.removesuffix(path.suffix), arrays, collection=context.collection or scene.collection
    )
    props = splat_data.settings(obj)
    stored = str(path)
    if relative_path and bpy.data.filepath:
        try:
            stored = bpy.path.relpath(stored)
        except ValueError:  # another drive (Windows): keep it absolute
            pass
    props.sequence_path = stored
    props.sequence_start = scene.frame_start if start is None else start
    background = sequence.header.get("background")
    if isinstance(background, list) and len(background) == 3 and all(map(_finite_number, background)):
        props.background = [min(1.0, max(0.0, float(c))) for c in background]  # else the default
    if sequence.y_up:
        obj.rotation_mode = "XYZ"
        obj.rotation_euler = Y_UP_ROTATION
    if set_frame_range:
        span = (sequence.num_frames - 1) * splat_sequence.scene_fps(scene) / sequence.fps
        scene.frame_end = max(scene.frame_end, int(props.sequence_start) + math.ceil(span - 1e-6))
    for other in context.selected_objects:
        other.select_set(False)
    obj.select_set(True)
    if context.view_layer is not None:
        context.view_layer.objects.active = obj
    return obj
