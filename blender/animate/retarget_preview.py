"""A retarget preview: ghosts of the target armature, each posed as the retarget would pose it on
one of a few frames, drawn as wireframes in front of everything, so an animator sees the result over
the source before anything is keyed. The target itself is not touched; the ghosts (objects and
their armature data) live in one collection and go again with ``clear``.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy.types import Collection, Context, Object

from ...core import rotations
from . import retarget_bake
from .errors import AnimateError

GHOST_OF = "gavatar_retarget_ghost_of"  # custom property on a ghost: the target's name
MAX_GHOSTS = 24


def preview_frames(frame_start: int, frame_end: int, count: int) -> list[int]:
    """count frames spread evenly over frame_start..frame_end, both ends included, no repeats."""
    if frame_end < frame_start:
        raise AnimateError(f"The frame range {frame_start}..{frame_end} is empty.")
    if not 1 <= count <= MAX_GHOSTS:
        raise AnimateError(f"Ask for 1 to {MAX_GHOSTS} ghosts, not {count}.")
    spread = np.linspace(frame_start, frame_end, count) if count > 1 else np.array([frame_start])
    return sorted(set(np.rint(spread).astype(int).tolist()))


def collection_name(target: Object) -> str:
    return f"Retarget Preview: {target.name}"


def ghosts_of(target: Object) -> list[Object]:
    return [obj for obj in bpy.data.objects if obj.get(GHOST_OF) == target.name]


def clear(target: Object) -> int:
    """Removes the target's ghosts, their armature data and their collection; returns how many."""
    ghosts = ghosts_of(target)
    for ghost in ghosts:
        data = ghost.data
        bpy.data.objects.remove(ghost)
        if data is not None and data.users == 0:
            bpy.data.armatures.remove(data)  # type: ignore[arg-type]
    collection = bpy.data.collections.get(collection_name(target))
    if collection is not None and not collection.all_objects:
        bpy.data.collections.remove(collection)
    return len(ghosts)


def _ghost_collection(context: Context, target: Object) -> Collection:
    collection = bpy.data.collections.get(collection_name(target))
    if collection is None:
        collection = bpy.data.collections.new(collection_name(target))
        context.scene.collection.children.link(collection)
    return collection


def show(
    context: Context,
    source: Object,
    target: Object,
    pairs: list[retarget_bake.Pair],
    frames: list[int],
    root_motion: str = "SCALED",
) -> tuple[list[Object], list[str]]:
    """Ghosts of the target on the given frames (replacing earlier ones); returns them and the
    retarget's warnings."""
    solution = retarget_bake.solve(context, source, target, pairs, frames, root_motion)
    clear(target)
    collection = _ghost_collection(context, target)
    ghosts = []
    for t, frame in enumerate(solution.frames):
        ghost = target.copy()
        ghost.data = target.data.copy()  # its own display settings; the bones are the same
        ghost.animation_data_clear()  # a static pose: the frame it shows
        ghost.name = f"{target.name} ghost {int(frame)}"
        ghost[GHOST_OF] = target.name
        for owner in list(ghost.users_collection):
            owner.objects.unlink(ghost)
        collection.objects.link(ghost)
        ghost.data.display_type = "WIRE"  # type: ignore[union-attr]
        ghost.show_in_front = True
        ghost.hide_select = True
        ghost.hide_render = True
        pose = ghost.pose.bones  # type: ignore[union-attr]
        for names, quats in (
            (solution.bones, solution.quaternions[t]),
            (solution.others, rotations.matrix_to_quaternion(solution.other_matrices[t])),
        ):
            for name, q in zip(names, quats, strict=True):
                pose[name].rotation_mode = "QUATERNION"
                pose[name].rotation_quaternion = tuple(float(x) for x in q)
        if solution.locations is not None:
            pose[solution.root_bone].location = tuple(float(x) for x in solution.locations[t])
        ghosts.append(ghost)
    return ghosts, solution.warnings
