"""Dataset parameter dictionaries (docs/DESIGN.md keys) <-> a rig in Blender.

The dictionary <-> forward-input mapping is ``core.rig.params`` (one implementation); this module
feeds it the rig's own sizes (how many Shape / Exp keys it has) instead of a loaded model, so
applying and exporting parameters never needs the model file again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from bpy.types import Scene

from ...core.rig import params as rig_params
from ...core.rig.errors import ParamsError
from ...core.rig.model import RigModel
from . import pose_io
from .parts import RigParts


@dataclass(frozen=True)
class RigSizes:
    """What core.rig.params reads of a model, taken from a rig in Blender."""

    family: str
    num_joints: int
    num_shape: int
    num_expression: int
    num_vertices: int

    def as_model(self) -> RigModel:
        # core.rig.params only reads these sizes and the family of its model argument.
        return cast(RigModel, self)


def rig_sizes(parts: RigParts) -> RigSizes:
    info = parts.info
    return RigSizes(
        family=str(info.family),
        num_joints=len(info.joint_names),
        num_shape=int(info.num_shape),
        num_expression=int(info.num_expression),
        num_vertices=len(parts.mesh.data.vertices),  # type: ignore[union-attr]
    )


def _check_family(family: str, params: Mapping[str, Any]) -> None:
    """Refuses a dictionary of another family (FLAME and SMPL-X share ``jaw_pose``, so a SMPL-X file
    would otherwise pose a FLAME rig's jaw and zero everything else)."""
    keys = set(params)
    families = [f for f in rig_params.POSE_SLOTS if f != family]
    own = set(rig_params.parameter_keys(family)) | {rig_params.FULL_POSE_KEYS[family]}
    for other in families:
        theirs = set(rig_params.parameter_keys(other)) | {rig_params.FULL_POSE_KEYS[other]}
        if keys & (theirs - own) and not keys & (own - theirs):
            found = ", ".join(sorted(keys & theirs))
            raise ParamsError(f"The file holds {other} parameters ({found}); the rig is {family}.")


def apply_params(
    parts: RigParts,
    params: Mapping[str, Any],
    *,
    keyframe: bool = False,
    frame_start: int | None = None,
    frame_index: int = 0,
    scene: Scene | None = None,
) -> pose_io.WriteReport:
    """Writes a dataset parameter dictionary (one frame or a sequence) onto the rig.

    Raises ParamsError for a dictionary that does not fit the rig's family or shapes.
    """
    sizes = rig_sizes(parts)
    _check_family(sizes.family, params)
    mapped = rig_params.params_from_dict(sizes.as_model(), params)
    inputs: dict[str, np.ndarray] = {
        "betas": mapped.betas,
        "expression": mapped.expression,
        "pose": mapped.pose,
        "transl": mapped.transl,
    }
    report = pose_io.WriteReport(dropped=list(mapped.warnings))
    if mapped.vertex_offsets is not None:
        offsets = mapped.vertex_offsets
        if not np.allclose(offsets, offsets[:1]):
            report.dropped.append(
                "per-frame dynamic_offset is not supported on a Blender rig; used frame 0's"
            )
        pose_io.set_static_offsets(parts, offsets[0])
    written = pose_io.write_pose(
        parts, inputs, keyframe=keyframe, frame_start=frame_start, frame_index=frame_index, scene=scene
    )
    report.frames, report.clamped = written.frames, written.clamped
    report.dropped.extend(written.dropped)
    if not keyframe and (_has_action(parts.armature) or _has_action(parts.mesh.data.shape_keys)):
        report.dropped.append(
            "the rig is animated: its keys take over again at the next frame change (use Keyframe)"
        )
    return report


def _has_action(id_data: Any) -> bool:
    return bool(id_data is not None and id_data.animation_data and id_data.animation_data.action)


def export_params(
    parts: RigParts,
    scene: Scene,
    *,
    frame_start: int | None = None,
    frame_end: int | None = None,
    pad_to_model: bool = True,
) -> dict[str, np.ndarray]:
    """The rig's evaluated state as a dataset dictionary: the current frame, or frame_start..frame_end
    (inclusive) with a leading frame axis. pad_to_model writes as many shape / expression values as
    the model had (e.g. 300 / 100 for FLAME), zeros beyond the rig's keys, so other tools read it."""
    if frame_start is None or frame_end is None:
        single = pose_io.read_pose(parts)
        state = {k: v[None] for k, v in single.items() if k != "vertex_offsets"}
        offsets = single.get("vertex_offsets")
        sequence = False
    else:
        if frame_end < frame_start:
            raise ParamsError(f"The frame range {frame_start}..{frame_end} is empty.")
        state = pose_io.read_sequence(parts, scene, frame_start, frame_end)
        offsets = state.pop("vertex_offsets", None)
        sequence = True
    sizes = rig_sizes(parts)
    mapped = rig_params.RigParams(
        betas=state["betas"][0],
        expression=state["expression"],
        pose=state["pose"],
        transl=state["transl"],
        vertex_offsets=None
        if offsets is None
        else np.broadcast_to(offsets, (state["pose"].shape[0],) + offsets.shape),
        is_sequence=sequence,
    )
    info = parts.info
    return rig_params.params_to_dict(
        sizes.as_model(),
        mapped,
        sequence=sequence,
        shape_size=max(int(info.model_num_shape), sizes.num_shape) if pad_to_model else None,
        expression_size=max(int(info.model_num_expression), sizes.num_expression) if pad_to_model else None,
    )


def key_frames(parts: RigParts, frames: Mapping[int, Mapping[str, Any]]) -> pose_io.WriteReport:
    """Keys one dataset parameter dictionary per frame number ({frame: dict}, frames in any order).

    The first static_offset found becomes the rig's StaticOffset key; identity (shape / betas) is taken
    per frame and keyed only where it changes.
    """
    report = pose_io.WriteReport()
    if not frames:
        return report
    sizes = rig_sizes(parts)
    order = sorted(frames)
    mapped = []
    for frame in order:
        _check_family(sizes.family, frames[frame])
        one = rig_params.params_from_dict(sizes.as_model(), frames[frame])
        mapped.append(one)
        for warning in one.warnings:
            if warning not in report.dropped:
                report.dropped.append(warning)
    offsets = next((m.vertex_offsets for m in mapped if m.vertex_offsets is not None), None)
    if offsets is not None:
        pose_io.set_static_offsets(parts, offsets[0])
    inputs = {
        "betas": np.stack([m.betas for m in mapped]),
        "expression": np.concatenate([m.expression[:1] for m in mapped]),
        "pose": np.concatenate([m.pose[:1] for m in mapped]),
        "transl": np.concatenate([m.transl[:1] for m in mapped]),
    }
    written = pose_io.write_pose(parts, inputs, keyframe=True, frame_numbers=np.array(order))
    report.frames, report.clamped = written.frames, written.clamped
    report.dropped.extend(written.dropped)
    return report
