"""An AMASS clip onto a SMPL-X / SMPL-H rig in the scene, as keyframes.

World frame: the clip's world is Z-up like Blender's; the rig's armature object turns the Y-up model
upright, so the root is re-expressed with ``core.motion.amass.rig_root`` and the pelvis follows
``J0 + t`` of the clip, J0 being the rest pelvis of the body model the clip was fitted with (from
the AMASS body-model folder when set; otherwise the rig's own pelvis stands in, which shifts the
whole clip by the difference of the two models' pelvis offsets). Positions are relative to the
rig object's origin, so a rig moved in the scene carries its clip along.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np
from bpy.types import Context, Scene

from ...core.motion import amass
from ...core.motion.amass import AmassClip
from ...core.rig import bone_frames, lbs
from ...core.rig.model import PARENTS
from ..rig import mesh_data, naming, pose_io
from ..rig.build import bone_rest_frames
from ..rig.parts import RigParts
from . import rig_pose
from .errors import AnimateError

BODY_FAMILIES = ("SMPLX", "SMPLH")
FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")
GROUND_CANDIDATES = 4  # frames evaluated in full to find the lowest foot


@dataclass
class AmassOptions:
    fps_mode: str = "SCENE"  # 'SCENE': resample to the scene's rate; 'SOURCE': keep it, set the scene's
    clip_start: int = 0  # first source frame
    clip_end: int = -1  # last source frame (-1: the clip's last)
    frame_start: int = 1  # scene frame of the first key
    use_betas: bool = False
    ground: bool = False
    in_place: bool = False
    new_action: bool = True
    set_scene_range: bool = True
    clip_pelvis: np.ndarray | None = None  # J0 of the clip's body model; None: the rig's own pelvis


@dataclass
class AmassResult:
    frames: int = 0
    fps: float = 0.0
    frame_start: int = 1
    action: str = ""
    lift: float = 0.0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def scene_fps(scene: Scene) -> float:
    return float(scene.render.fps) / float(scene.render.fps_base)


def set_scene_fps(scene: Scene, fps: float) -> None:
    """Scene rate = fps / fps_base with an integer fps (e.g. 59.94 = 60 / 1.001)."""
    whole = max(1, round(fps))
    scene.render.fps = whole
    scene.render.fps_base = whole / fps


def check_body_rig(parts: RigParts) -> None:
    if parts.family not in BODY_FAMILIES:
        raise AnimateError(
            f"'{parts.armature.name}' is a {naming.family_label(parts.family)} rig; AMASS clips drive "
            "SMPL-X or SMPL-H body rigs."
        )


def _set_betas(parts: RigParts, betas: np.ndarray) -> dict[str, float]:
    """Shape key values from betas; returns the old values for a rollback."""
    blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    old: dict[str, float] = {}
    for i in range(int(parts.info.num_shape)):
        block = blocks.get(naming.shape_key(i))
        if block is None:
            continue
        old[block.name] = block.value
        value = float(betas[i]) if i < betas.shape[0] else 0.0
        block.value = min(max(value, block.slider_min), block.slider_max)
    return old


@dataclass
class _FootSkin:
    """The driver mesh's foot vertices (skinned mostly to an ankle or foot bone), enough to pose them
    in numpy as the rig does: rest coordinates with the current shape keys, skinning weights, and the
    pose-corrective keys with the local-rotation entry that drives each."""

    index: np.ndarray  # (n,)
    coords: np.ndarray  # (n,3) model space
    weights: np.ndarray  # (n,J)
    correctives: list[tuple[int, int, int, np.ndarray]]  # (joint, row, column, delta (n,3))


def _foot_skin(parts: RigParts) -> _FootSkin:
    mesh = parts.mesh
    names = parts.joint_names
    joint_of_group = {
        g.index: names.index(g.name.removeprefix(naming.DEFORM_PREFIX))
        for g in mesh.vertex_groups
        if g.name.removeprefix(naming.DEFORM_PREFIX) in names
    }
    feet = {names.index(j) for j in FOOT_JOINTS if j in names}
    indices, rows = [], []
    for vertex in mesh.data.vertices:  # type: ignore[union-attr]
        weights = {joint_of_group[g.group]: g.weight for g in vertex.groups if g.group in joint_of_group}
        if weights and max(weights, key=lambda j: weights[j]) in feet:
            row = np.zeros(len(names))
            for j, w in weights.items():
                row[j] = w
            indices.append(vertex.index)
            rows.append(row / row.sum())
    index = np.array(indices, dtype=np.int64)
    blocks = mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
    basis = mesh_data.shape_key_coords(blocks[naming.BASIS_KEY]).astype(np.float64)[index]
    coords = basis.copy()
    correctives = []
    for block in blocks[1:]:
        delta = mesh_data.shape_key_coords(block).astype(np.float64)[index] - basis
        parsed = naming_corrective(block.name)
        if parsed is not None and parsed[0] in names:
            correctives.append((names.index(parsed[0]), parsed[1], parsed[2], delta))
        elif not block.mute:
            coords += block.value * delta
    return _FootSkin(index, coords, np.array(rows).reshape(-1, len(names)), correctives)


def naming_corrective(key: str) -> tuple[str, int, int] | None:
    """(joint, row, column) of a pose-corrective key name ``Pose.<joint>.<r><c>``, else None."""
    if not key.startswith("Pose.") or key.count(".") < 2:
        return None
    joint, entry = key[5:].rsplit(".", 1)
    if len(entry) != 2 or not entry.isdigit():
        return None
    return joint, int(entry[0]), int(entry[1])


def _lowest_foot_frames(
    parts: RigParts, rest: np.ndarray, pose: np.ndarray, transl: np.ndarray, count: int
) -> np.ndarray:
    """The frames where the feet reach lowest, lowest first, posing the foot vertices in numpy as the
    rig does (cheap candidates that the evaluated mesh then decides between)."""
    skin = _foot_skin(parts)
    parents = np.array(PARENTS[parts.family])
    _, bone_axes = bone_rest_frames(parts.armature, parts.joint_names)
    rotation_mats = lbs.axis_angle_to_matrix(pose)
    local = bone_frames.model_to_local(rotation_mats, bone_axes) - np.eye(3)  # (T,J,3,3)
    heights = np.empty(pose.shape[0])
    for t in range(pose.shape[0]):
        posed_rest = skin.coords.copy()
        for joint, row, column, delta in skin.correctives:
            posed_rest += local[t, joint, row, column] * delta
        world = lbs.forward_kinematics(rotation_mats[t], rest, parents)
        world[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], rest)
        blended = np.einsum("vj,jab->vab", skin.weights, world)
        # Model y is world height (the rig object turns Y-up into Z-up).
        y = np.einsum("vb,vb->v", blended[:, 1, :3], posed_rest) + blended[:, 1, 3]
        heights[t] = y.min(initial=np.inf) + transl[t, 1]
    return np.argsort(heights, kind="stable")[:count]


def _ground_lift(context: Context, parts: RigParts, frames: list[int], feet: np.ndarray) -> float:
    """How far to raise the clip so its lowest foot vertex over frames sits at the rig's origin height."""
    scene = context.scene
    assert scene is not None
    lowest = np.inf
    for frame in frames:
        scene.frame_set(frame)
        mesh_eval = parts.mesh.evaluated_get(context.evaluated_depsgraph_get())
        co = np.empty(len(mesh_eval.data.vertices) * 3, dtype=np.float32)  # type: ignore[union-attr]
        mesh_eval.data.vertices.foreach_get("co", co)  # type: ignore[union-attr]
        points = co.reshape(-1, 3).astype(np.float64)
        if feet.size:
            points = points[feet]
        world = np.array(mesh_eval.matrix_world, dtype=np.float64)
        lowest = min(lowest, float((points @ world[2, :3] + world[2, 3]).min()))
    origin = float(np.array(parts.armature.matrix_world)[2, 3])
    return origin - lowest


def import_clip(
    context: Context, clip: AmassClip, parts: RigParts, options: AmassOptions, name: str
) -> AmassResult:
    """Keys the clip onto the rig. On any failure everything it changed is put back, then it raises."""
    start_time = time.perf_counter()
    check_body_rig(parts)
    scene = context.scene
    assert scene is not None
    result = AmassResult(frame_start=options.frame_start)
    old_fps = (scene.render.fps, scene.render.fps_base)
    old_range = (scene.frame_start, scene.frame_end, scene.frame_current)
    old_betas: dict[str, float] = {}
    swap: rig_pose.ActionSwap | None = None
    try:
        if options.fps_mode == "SOURCE":
            set_scene_fps(scene, clip.fps)
        target_fps = clip.fps if options.fps_mode == "SOURCE" else scene_fps(scene)
        end = None if options.clip_end < 0 else options.clip_end
        try:
            resampled = amass.resample_clip(clip, target_fps, options.clip_start, end)
        except amass.MotionFileError as exc:
            raise AnimateError(str(exc)) from None
        result.frames, result.fps = resampled.num_frames, target_fps

        if options.use_betas:
            old_betas = _set_betas(parts, clip.betas)
            if clip.layout == "SMPLH" and parts.family == "SMPLX":
                result.warnings.append(
                    "the clip's betas are SMPL-H shape coefficients; on SMPL-X shape keys they give a "
                    "different body"
                )
        context.view_layer.update()
        rest = rig_pose.shaped_rest_joints(parts)
        rig_pelvis = rest[0]
        clip_pelvis = rig_pelvis if options.clip_pelvis is None else options.clip_pelvis
        pose, missing = amass.joint_rotations(resampled, parts.joint_names)
        root, transl = amass.rig_root(
            resampled.global_orient, resampled.transl, clip_pelvis, rig_pelvis, in_place=options.in_place
        )
        pose[:, 0] = root
        inputs: dict[str, np.ndarray] = {"pose": pose, "transl": transl}
        if resampled.expression is not None and int(parts.info.num_expression) > 0:
            inputs["expression"] = resampled.expression

        if options.new_action:
            swap = rig_pose.use_new_action(parts.armature, name)
        result.action = parts.armature.animation_data.action.name  # type: ignore[union-attr]
        written = pose_io.write_pose(
            parts, inputs, keyframe=True, frame_start=options.frame_start, scene=scene
        )
        result.warnings.extend(written.messages())

        if options.ground:
            # The skeleton picks a few candidate frames; the skinned feet there decide the lift.
            candidates = _lowest_foot_frames(parts, rest, pose, transl, GROUND_CANDIDATES)
            frames = [options.frame_start + int(t) for t in candidates]
            lift = _ground_lift(context, parts, frames, _foot_skin(parts).index)
            _, transl = amass.rig_root(
                resampled.global_orient,
                resampled.transl,
                clip_pelvis,
                rig_pelvis,
                in_place=options.in_place,
                lift=lift,
            )
            pose_io.write_pose(
                parts, {"transl": transl}, keyframe=True, frame_start=options.frame_start, scene=scene
            )
            result.lift = lift
        if options.set_scene_range:
            scene.frame_start = options.frame_start
            scene.frame_end = options.frame_start + resampled.num_frames - 1
        scene.frame_set(options.frame_start if options.set_scene_range else old_range[2])
    except BaseException:
        if swap is not None:
            swap.undo()
        blocks = parts.mesh.data.shape_keys.key_blocks  # type: ignore[union-attr]
        for key_name, value in old_betas.items():
            blocks[key_name].value = value
        scene.render.fps, scene.render.fps_base = old_fps
        scene.frame_start, scene.frame_end = old_range[:2]
        scene.frame_set(old_range[2])
        raise
    if missing:
        shown = ", ".join(missing[:4]) + ("..." if len(missing) > 4 else "")
        result.warnings.append(f"the clip does not move {len(missing)} rig joints ({shown})")
    result.seconds = time.perf_counter() - start_time
    return result


def clip_name(path: str | Path) -> str:
    return Path(path).stem or "AMASS"


def body_model_pelvis(folder: str, clip: AmassClip) -> tuple[np.ndarray | None, str]:
    """J0 of the clip's body model from the AMASS body-model folder; (None, reason) when unavailable."""
    from ...core.rig.errors import ModelFileError
    from ...core.rig.loaders import load_model

    path = amass.body_model_path(bpy.path.abspath(folder), clip.layout, clip.gender) if folder else None
    if path is None:
        return None, "no body model found"
    try:
        model = load_model(path, family=clip.layout)
    except ModelFileError as exc:
        return None, str(exc)
    return amass.model_rest_pelvis(model.v_template, model.shape_dirs, model.joint_regressor, clip.betas), ""
