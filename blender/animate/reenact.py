"""Expression reenactment: a tracked FLAME parameter sequence onto a head rig, as keyframes.

Only what the user picks is keyed (expression, jaw, eyes, neck, head rotation, head translation), so
the avatar keeps its own identity and whatever else it is animated with. FLAME rigs take every part;
SMPL-X rigs (whose face is FLAME's) take expression, jaw, eyes and neck.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import bpy
import numpy as np
from bpy.types import Context

from ...core import rotations
from ...core.motion import flame_sequence
from ...core.motion.errors import MotionFileError
from ...core.motion.flame_sequence import FlameSequence
from ...core.rig.errors import ParamsError
from ..rig import animation, naming, pose_io, training_range
from ..rig.build import SHAPE_SLIDER, bone_rest_frames
from ..rig.parts import RigParts
from . import rig_pose
from .amass_import import scene_fps, set_scene_fps
from .errors import AnimateError

# Which rig joints each FLAME pose key drives, per rig family.
JOINTS: dict[str, dict[str, tuple[str, ...]]] = {
    "FLAME": {
        "rotation": ("root",),
        "neck_pose": ("neck",),
        "jaw_pose": ("jaw",),
        "eyes_pose": ("left_eye", "right_eye"),
    },
    "SMPLX": {
        "neck_pose": ("neck",),
        "jaw_pose": ("jaw",),
        "eyes_pose": ("left_eye_smplhf", "right_eye_smplhf"),
    },
}


@dataclass
class ReenactOptions:
    fps_mode: str = "SCENE"  # 'SCENE' or 'SOURCE' (as AMASS import)
    source_fps: float = 25.0  # the tracking's frame rate when the files do not say
    clip_start: int = 0
    clip_end: int = -1
    frame_start: int = 1
    use_expression: bool = True
    use_jaw: bool = True
    use_eyes: bool = True
    use_neck: bool = True
    use_rotation: bool = True
    use_translation: bool = False
    use_shape: bool = False
    new_action: bool = True
    set_scene_range: bool = True

    def keys(self) -> tuple[str, ...]:
        chosen = [
            ("expr", self.use_expression),
            ("jaw_pose", self.use_jaw),
            ("eyes_pose", self.use_eyes),
            ("neck_pose", self.use_neck),
            ("rotation", self.use_rotation),
            ("translation", self.use_translation),
        ]
        return tuple(key for key, on in chosen if on)


@dataclass
class ReenactResult:
    frames: int = 0
    fps: float = 0.0
    keyed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _expression_keys(parts: RigParts, expr: np.ndarray, frames: np.ndarray, result: ReenactResult) -> None:
    key_id = parts.mesh.data.shape_keys  # type: ignore[union-attr]
    assert key_id is not None
    count = min(int(parts.info.num_expression), expr.shape[1])
    if expr.shape[1] > count and np.any(expr[:, count:] != 0):
        result.warnings.append(
            f"expression {count}..{expr.shape[1] - 1} dropped: the rig has {count} expression keys"
        )
    values = np.clip(expr[:, :count], -SHAPE_SLIDER, SHAPE_SLIDER)
    if np.any(values != expr[:, :count]):
        result.warnings.append(f"expression values beyond +-{SHAPE_SLIDER:g} were clamped")
    values, outside = training_range.clamp_to_sliders(parts, values)
    if outside:
        result.warnings.append(
            f"{outside} expression values beyond their sliders' ranges (ARKit weights 0..1, or the "
            "avatar's training range) were clamped"
        )
    action = animation.ensure_action(key_id, f"{parts.mesh.name} Keys")
    for i in range(count):
        path = f'key_blocks["{naming.expression_key(i)}"].value'
        animation.set_keys(animation.ensure_fcurve(key_id, action, path, 0, ""), frames, values[:, i])


def apply_sequence(
    context: Context, parts: RigParts, sequence: FlameSequence, options: ReenactOptions, name: str
) -> ReenactResult:
    """Keys the chosen parts of the sequence onto the rig; on failure puts everything back and raises."""
    started = time.perf_counter()
    family = parts.family
    if family not in JOINTS:
        label = naming.family_label(family)
        raise AnimateError(
            f"'{parts.armature.name}' is a {label} rig; reenactment drives FLAME heads or SMPL-X bodies."
        )
    scene = context.scene
    assert scene is not None
    result = ReenactResult(warnings=list(sequence.notes))
    wanted = options.keys()
    present = [k for k in wanted if k in sequence.frames]
    absent = [k for k in wanted if k not in sequence.frames]
    if absent:
        result.warnings.append(f"the sequence has no {', '.join(absent)}")
    if family != "FLAME":
        ignored = [k for k in present if k in ("rotation", "translation")]
        present = [k for k in present if k not in ignored]
        if ignored:
            result.warnings.append(
                f"not applied: a SMPL-X body has no joint for the head's {', '.join(ignored)}"
            )
    if not present:
        raise AnimateError("Nothing to apply: none of the chosen parameters are in the sequence.")

    with rig_pose.undone_on_failure(scene) as swaps:
        source_fps = sequence.fps or options.source_fps
        if options.fps_mode == "SOURCE":
            set_scene_fps(scene, source_fps)
        target_fps = source_fps if options.fps_mode == "SOURCE" else scene_fps(scene)
        end = None if options.clip_end < 0 else options.clip_end
        try:
            resampled = flame_sequence.resample_sequence(
                sequence, target_fps, source_fps, options.clip_start, end
            )
        except MotionFileError as exc:
            raise AnimateError(str(exc)) from None
        count = resampled.num_frames
        frames = np.arange(options.frame_start, options.frame_start + count, dtype=np.float64)
        result.frames, result.fps = count, target_fps

        if options.use_shape:
            _apply_identity(parts, sequence, result)
        bone_keys = [k for k in present if k in JOINTS[family]]
        if bone_keys or "translation" in present:
            if options.new_action:
                swaps.append(rig_pose.use_new_action(parts.armature, name))
            action = rig_pose.ensure_action(parts.armature)
            names: list[str] = []
            mats: list[np.ndarray] = []
            for key in bone_keys:
                joints = JOINTS[family][key]
                values = resampled.frames[key].reshape(count, len(joints), 3)
                for j, joint in enumerate(joints):
                    names.append(joint)
                    mats.append(rotations.axis_angle_to_matrix(values[:, j]))
            if names:
                quats = rig_pose.local_quaternions(parts, names, np.stack(mats, axis=1))
                rig_pose.key_rotations(parts.armature, action, names, frames, quats)
            if "translation" in present:
                _, axes = bone_rest_frames(parts.armature, parts.joint_names[:1])
                root = parts.joint_names[0]
                rig_pose.key_locations(
                    parts.armature, action, root, frames, resampled.frames["translation"] @ axes[0]
                )
        if "expr" in present:
            if int(parts.info.num_expression) == 0:
                result.warnings.append("the rig has no expression keys")
            else:
                key_id = parts.mesh.data.shape_keys  # type: ignore[union-attr]
                if options.new_action:
                    swaps.append(rig_pose.use_new_action(key_id, f"{name} Expression"))  # type: ignore[arg-type]
                _expression_keys(parts, resampled.frames["expr"], frames, result)
        if options.set_scene_range:
            scene.frame_start, scene.frame_end = options.frame_start, options.frame_start + count - 1
        scene.frame_set(scene.frame_current)
    result.keyed = present
    result.seconds = time.perf_counter() - started
    return result


def _apply_identity(parts: RigParts, sequence: FlameSequence, result: ReenactResult) -> None:
    """The tracked identity (shape, and static offsets on FLAME rigs) as the rig's Shape keys."""
    shape = sequence.identity.get("shape")
    if shape is not None:
        blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
        for i in range(int(parts.info.num_shape)):
            block = blocks.get(naming.shape_key(i))
            if block is not None:
                block.value = float(
                    np.clip(shape[i] if i < shape.shape[0] else 0.0, -SHAPE_SLIDER, SHAPE_SLIDER)
                )
    offset = sequence.identity.get("static_offset")
    if offset is not None and parts.family == "FLAME":
        count = len(parts.mesh.data.vertices)  # type: ignore[union-attr]
        if offset.shape[1] < count:
            result.warnings.append(
                f"static_offset covers {offset.shape[1]} vertices, the rig has {count}: not applied"
            )
        else:
            try:
                pose_io.set_static_offsets(parts, offset[0, :count])
            except (ValueError, ParamsError) as exc:
                result.warnings.append(f"static_offset not applied: {exc}")


def sequence_name(path: str) -> str:
    from pathlib import Path

    p = Path(bpy.path.abspath(path))
    if p.name == flame_sequence.PARAM_FOLDER:
        p = p.parent
    return p.stem or "Reenactment"
