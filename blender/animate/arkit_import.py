"""ARKit-52 curves onto a head rig as keyframes: expressions (by name or through the mapping table),
head rotation onto the neck, eye rotations onto the eyes.

The head rotation of a face capture is the face relative to the camera; it drives the ``neck``
joint (the body, or FLAME's root, stays where the animator put it). ``LeftEye*`` drives the
subject's left eye (``left_eye`` / ``left_eye_smplhf``). Only what is chosen is keyed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np
from bpy.types import Context

from ...core import rotations
from ...core.motion import arkit_mapping
from ...core.motion.arkit import ARKIT_NAMES, ArkitClip
from ...core.motion.errors import MotionFileError
from ..rig import animation, naming, training_range
from ..rig.build import SHAPE_SLIDER
from ..rig.parts import RigParts
from . import arkit_map, rig_pose
from .amass_import import scene_fps, set_scene_fps
from .errors import AnimateError

# Which joints the capture's rotations drive, per rig family.
JOINTS: dict[str, dict[str, str]] = {
    "FLAME": {"head": "neck", "left_eye": "left_eye", "right_eye": "right_eye"},
    "SMPLX": {"head": "neck", "left_eye": "left_eye_smplhf", "right_eye": "right_eye_smplhf"},
}
MAPPING_ITEMS = [
    ("AUTO", "Automatic", "The rig's mapping table when it has one, else the rig's ARKit-named expressions"),
    ("NAMES", "By Name", "Expressions named after ARKit shapes take their weights"),
    (
        "TABLE",
        "Mapping Table",
        "Through the rig's ARKit mapping table (ARKit name -> expression coefficients)",
    ),
]


@dataclass
class ArkitOptions:
    fps_mode: str = "SCENE"  # 'SCENE' (resample to the scene's rate) or 'SOURCE' (set the scene's)
    clip_start: float = 0.0  # seconds into the clip
    clip_end: float = -1.0  # seconds; -1: the clip's end
    frame_start: int = 1
    mapping: str = "AUTO"
    strength: float = 1.0  # scales the weights
    use_expression: bool = True
    use_head: bool = True
    head_relative: bool = False  # the head rotation relative to the clip's first frame (phone not straight)
    use_eyes: bool = True
    new_action: bool = True
    set_scene_range: bool = True


@dataclass
class ArkitResult:
    frames: int = 0
    fps: float = 0.0
    mapping: str = ""
    expressions: int = 0  # expression keys animated
    joints: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def expression_table(parts: RigParts, mode: str) -> tuple[np.ndarray, str, list[str]]:
    """(52, E) table, the mode used ('NAMES' or 'TABLE') and warnings; raises AnimateError."""
    count = int(parts.info.num_expression)
    if count == 0:
        raise AnimateError(f"'{parts.armature.name}' has no expression keys to drive.")
    names = arkit_map.expression_names(parts)
    by_name = arkit_mapping.name_map(names)
    has_table = arkit_map.has_table(parts.armature)
    if mode == "AUTO":
        mode = "TABLE" if has_table else "NAMES"
    if mode == "TABLE":
        if not has_table:
            raise AnimateError(
                f"'{parts.armature.name}' has an empty ARKit mapping table; fit or fill it first."
            )
        table, warnings = arkit_map.read_table(parts.armature, count)
        return table, mode, warnings
    if not by_name:
        raise AnimateError(
            f"'{parts.armature.name}' has no expressions named after ARKit shapes and no mapping table; "
            "fit one from a rig that has ARKit expressions (Avatar > ARKit Mapping) or fill it in."
        )
    return arkit_mapping.matrix_from_names(names, count), mode, []


def _key_expressions(
    parts: RigParts, values: np.ndarray, columns: np.ndarray, frames: np.ndarray, result: ArkitResult
) -> None:
    key_id = parts.mesh.data.shape_keys  # type: ignore[union-attr]
    assert key_id is not None
    clamped = np.clip(values, -SHAPE_SLIDER, SHAPE_SLIDER)
    if np.any(clamped != values):
        result.warnings.append(f"expression values beyond +-{SHAPE_SLIDER:g} were clamped")
    clamped, outside = training_range.clamp_to_sliders(parts, clamped)
    if outside:
        result.warnings.append(
            f"{outside} expression values beyond their sliders' ranges (ARKit weights 0..1, or the "
            "avatar's training range) were clamped"
        )
    action = animation.ensure_action(key_id, f"{parts.mesh.name} Keys")
    for i in columns:
        path = f'key_blocks["{naming.expression_key(int(i))}"].value'
        fcurve = animation.ensure_fcurve(key_id, action, path, 0, "")
        animation.set_keys(fcurve, frames, clamped[:, i])
    result.expressions = len(columns)


def apply_clip(
    context: Context, parts: RigParts, clip: ArkitClip, options: ArkitOptions, name: str
) -> ArkitResult:
    """Keys the clip onto the rig; on failure puts the actions and scene settings back and raises."""
    started = time.perf_counter()
    if not math.isfinite(options.strength) or abs(options.strength) > 1e3:
        raise AnimateError(f"The strength must be a finite number within +-1000, not {options.strength:g}.")
    family = parts.family
    if family not in JOINTS:
        raise AnimateError(
            f"'{parts.armature.name}' is a {naming.family_label(family)} rig; ARKit curves drive "
            "FLAME heads or SMPL-X bodies."
        )
    scene = context.scene
    assert scene is not None
    result = ArkitResult(warnings=list(clip.notes))
    table = None
    columns = np.zeros(0, dtype=np.int64)
    if options.use_expression and int(parts.info.num_expression) == 0:
        result.warnings.append(f"'{parts.armature.name}' has no expression keys: expressions not applied")
    elif options.use_expression:
        table, result.mapping, warnings = expression_table(parts, options.mapping)
        result.warnings += warnings
        present = [ARKIT_NAMES.index(n) for n in clip.names]
        columns = np.flatnonzero(np.abs(table[present]).sum(axis=0) > 0)
        if columns.size == 0:
            raise AnimateError(
                f"None of the clip's {len(clip.names)} ARKit shapes maps to an expression of "
                f"'{parts.armature.name}'."
            )
        if result.mapping == "NAMES":
            missing = [n for n in clip.names if table[ARKIT_NAMES.index(n)].sum() == 0]
            if missing:
                shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
                result.warnings.append(f"the rig has no expression for {len(missing)} ARKit shapes ({shown})")
    parts_wanted = [p for p in ("head",) if options.use_head] + (
        ["left_eye", "right_eye"] if options.use_eyes else []
    )
    bones = parts.armature.pose.bones  # type: ignore[union-attr]
    rotation_parts = [p for p in parts_wanted if p in clip.rotations and JOINTS[family][p] in bones]
    if not columns.size and not rotation_parts:
        raise AnimateError("Nothing to apply: the clip has none of the chosen parts.")

    with rig_pose.undone_on_failure(scene) as swaps:
        source_fps = clip.fps or scene_fps(scene)
        if options.fps_mode == "SOURCE":
            set_scene_fps(scene, source_fps)
        target_fps = source_fps if options.fps_mode == "SOURCE" else scene_fps(scene)
        try:
            frames_data = arkit_mapping.resample_clip(clip, target_fps, options.clip_start, options.clip_end)
        except MotionFileError as exc:
            raise AnimateError(str(exc)) from None
        count = frames_data.num_frames
        frames = np.arange(options.frame_start, options.frame_start + count, dtype=np.float64)
        result.frames, result.fps = count, target_fps
        if table is not None and columns.size:
            key_id = parts.mesh.data.shape_keys  # type: ignore[union-attr]
            if options.new_action:
                swaps.append(rig_pose.use_new_action(key_id, f"{name} Expression"))  # type: ignore[arg-type]
            values = (frames_data.weights * options.strength) @ table
            _key_expressions(parts, values, columns, frames, result)
        if rotation_parts:
            if options.new_action:
                swaps.append(rig_pose.use_new_action(parts.armature, name))
            action = rig_pose.ensure_action(parts.armature)
            names = [JOINTS[family][p] for p in rotation_parts]
            mats = np.stack(
                [rotations.axis_angle_to_matrix(frames_data.rotations[p]) for p in rotation_parts], axis=1
            )
            if options.head_relative and "head" in rotation_parts:
                k = rotation_parts.index("head")
                first = rotations.axis_angle_to_matrix(
                    arkit_mapping.euler_to_axis_angle(clip.rotations["head"][0])
                )
                mats[:, k] = first.T @ mats[:, k]
            quats = rig_pose.local_quaternions(parts, names, mats)
            rig_pose.key_rotations(parts.armature, action, names, frames, quats)
            result.joints = names
        if options.set_scene_range:
            scene.frame_start, scene.frame_end = options.frame_start, options.frame_start + count - 1
        scene.frame_set(scene.frame_current)
    result.seconds = time.perf_counter() - started
    return result


def clip_name(path: str) -> str:
    return Path(bpy.path.abspath(path)).stem or "ARKit"
