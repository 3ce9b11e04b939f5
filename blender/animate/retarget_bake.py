"""Baking motion from one armature onto another, bone by bone, as keyframes.

Per frame the source's evaluated bones give world rotations; ``core.motion.retarget`` turns them
into target world rotations that point every mapped bone the way its source bone points (rest-pose
differences, e.g. A-pose vs T-pose, compensated), then into the target's pose-bone rotations
through its own hierarchy. Unmapped target bones keep their own animation. Root motion follows the
source root's displacement, scaled by the ratio of leg lengths.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import bpy
import numpy as np
from bpy.types import Context, Object

from ...core import rotations
from ...core.motion import bone_maps, retarget
from ...core.rig import bone_frames
from . import rig_pose
from .errors import AnimateError

Pair = tuple[str, str, str]  # (canonical joint, source bone, target bone)


@dataclass
class RetargetResult:
    frames: int = 0
    bones: int = 0
    ratio: float = 1.0
    root_bone: str = ""
    action: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _matrix(value: object) -> np.ndarray:
    return np.array(value, dtype=np.float64)


def hierarchy(armature: Object) -> tuple[list[str], np.ndarray]:
    """Bone names parents-first and each bone's parent index (-1 for roots)."""
    bones = armature.data.bones  # type: ignore[union-attr]
    order: list[str] = []
    stack = [b for b in bones if b.parent is None][::-1]
    while stack:
        bone = stack.pop()
        order.append(bone.name)
        stack.extend(list(bone.children)[::-1])
    index = {name: i for i, name in enumerate(order)}
    parents = np.array([index[bones[n].parent.name] if bones[n].parent else -1 for n in order])
    return order, parents


def check_pairs(source: Object, target: Object, pairs: list[Pair]) -> list[Pair]:
    if source == target:
        raise AnimateError("The source and the target are the same armature.")
    for obj, role in ((source, "source"), (target, "target")):
        if obj.type != "ARMATURE":
            raise AnimateError(f"The {role} '{obj.name}' is not an armature.")
    usable = []
    for joint, src, dst in pairs:
        if src not in source.data.bones:  # type: ignore[union-attr,operator]
            raise AnimateError(
                f"The bone map names '{src}' for {joint}, which '{source.name}' does not have."
            )
        if dst not in target.data.bones:  # type: ignore[union-attr,operator]
            raise AnimateError(
                f"The bone map names '{dst}' for {joint}, which '{target.name}' does not have."
            )
        usable.append((joint, src, dst))
    if not usable:
        raise AnimateError(f"No bones of '{source.name}' are mapped onto '{target.name}'.")
    targets = [p[2] for p in usable]
    if len(set(targets)) != len(targets):
        raise AnimateError("The bone map uses one target bone twice.")
    return usable


def detect_pairs(
    source: Object, target: Object, source_preset: str = "AUTO", target_preset: str = "AUTO"
) -> list[Pair]:
    """The bone map between two armatures from their naming conventions (detected or given)."""
    src_names = {b.name for b in source.data.bones}  # type: ignore[union-attr]
    dst_names = {b.name for b in target.data.bones}  # type: ignore[union-attr]
    src = bone_maps.detect_preset(src_names) if source_preset == "AUTO" else source_preset
    dst = bone_maps.detect_preset(dst_names) if target_preset == "AUTO" else target_preset
    for preset, obj in ((src, source), (dst, target)):
        if preset is None:
            raise AnimateError(
                f"The bone names of '{obj.name}' follow none of the known conventions "
                f"({', '.join(bone_maps.PRESET_LABELS.values())}); pick one or fill the bone map by hand."
            )
    assert src is not None and dst is not None
    return bone_maps.joint_pairs(src, dst, src_names, dst_names)


def _leg_length(armature: Object, world: np.ndarray, pairs: dict[str, str]) -> float | None:
    bones = armature.data.bones  # type: ignore[union-attr]
    lengths = []
    for hip, knee, ankle in bone_maps.LEG_JOINTS:
        if hip in pairs and knee in pairs and ankle in pairs:
            heads = [
                world[:3, :3] @ _matrix(bones[pairs[j]].head_local) + world[:3, 3] for j in (hip, knee, ankle)
            ]
            lengths.append(retarget.leg_length(*heads))
    return float(np.mean(lengths)) if lengths else None


class _RootSolver:
    """Pose-bone locations that put the target's root bone head at wanted armature-space points,
    through its parent's pose and whatever constraints shift it (measured once, at the start)."""

    def __init__(self, target: Object, bone: str, depsgraph: bpy.types.Depsgraph) -> None:
        self.bone = bone
        data_bone = target.data.bones[bone]  # type: ignore[union-attr]
        self.rest = _matrix(data_bone.matrix_local)
        self.parent = data_bone.parent.name if data_bone.parent else None
        self.parent_rest = _matrix(data_bone.parent.matrix_local) if data_bone.parent else None
        self.local_location = bool(data_bone.use_local_location)
        base = self.base(target, depsgraph)
        location = np.array(target.pose.bones[bone].location, dtype=np.float64)  # type: ignore[union-attr]
        evaluated = target.evaluated_get(depsgraph).pose.bones[bone]  # type: ignore[union-attr]
        self.offset = np.array(evaluated.head, dtype=np.float64) - (base[:3, :3] @ location + base[:3, 3])
        self.rest_head = base[:3, 3] + self.offset

    def base(self, target: Object, depsgraph: bpy.types.Depsgraph) -> np.ndarray:
        """The bone's armature-space matrix with an identity pose, under its parent's current pose."""
        if self.parent is None or self.parent_rest is None:
            base = self.rest.copy()
        else:
            parent = target.evaluated_get(depsgraph).pose.bones[self.parent]  # type: ignore[union-attr]
            base = _matrix(parent.matrix) @ np.linalg.inv(self.parent_rest) @ self.rest
        if not self.local_location:
            base[:3, :3] = np.eye(3) if self.parent is None else base[:3, :3] @ self.rest[:3, :3].T
        return base

    def location(self, base: np.ndarray, wanted_head: np.ndarray) -> np.ndarray:
        axes = base[:3, :3]
        return np.linalg.solve(axes, wanted_head - self.offset - base[:3, 3])


def bake(
    context: Context,
    source: Object,
    target: Object,
    pairs: list[Pair],
    frame_start: int,
    frame_end: int,
    root_motion: str = "SCALED",
    new_action: bool = True,
) -> RetargetResult:
    """Keys the target's mapped bones (and root location) on frames frame_start..frame_end."""
    started = time.perf_counter()
    pairs = check_pairs(source, target, pairs)
    if frame_end < frame_start:
        raise AnimateError(f"The frame range {frame_start}..{frame_end} is empty.")
    scene = context.scene
    current = scene.frame_current
    result = RetargetResult(bones=len(pairs))
    names, parents = hierarchy(target)
    index = {n: i for i, n in enumerate(names)}
    mapped_idx = np.array([index[dst] for _, _, dst in pairs])
    mapped = np.zeros(len(names), bool)
    mapped[mapped_idx] = True
    target_bones = target.data.bones  # type: ignore[union-attr]
    rest_arm = retarget.orthonormal(np.array([_matrix(target_bones[n].matrix_local)[:3, :3] for n in names]))
    by_joint_src = {j: s for j, s, _ in pairs}
    by_joint_dst = {j: d for j, _, d in pairs}
    root = next((p for p in pairs if p[0] == "pelvis"), None)

    scene.frame_set(frame_start)
    depsgraph = context.evaluated_depsgraph_get()
    target_world = _matrix(target.evaluated_get(depsgraph).matrix_world)
    source_world0 = _matrix(source.evaluated_get(depsgraph).matrix_world)
    target_rot = retarget.orthonormal(target_world[:3, :3])
    source_bones = source.data.bones  # type: ignore[union-attr]
    source_rest = retarget.orthonormal(
        np.array([source_world0[:3, :3] @ _matrix(source_bones[s].matrix_local)[:3, :3] for _, s, _ in pairs])
    )
    target_rest_world = target_rot @ rest_arm[mapped_idx]
    alignment = retarget.rest_alignment(source_rest, target_rest_world)
    solver = _RootSolver(target, root[2], depsgraph) if root is not None and root_motion != "NONE" else None
    if root is None and root_motion != "NONE":
        result.warnings.append("the pelvis / hips is not mapped, so there is no root motion")

    frames = np.arange(frame_start, frame_end + 1)
    count = frames.shape[0]
    posed = np.empty((count, len(pairs), 3, 3))
    fixed = np.empty((count, len(names), 3, 3))
    root_heads = np.empty((count, 3))
    bases = np.empty((count, 4, 4))
    target_pose = target.pose.bones  # type: ignore[union-attr]
    try:
        for t, frame in enumerate(frames):
            scene.frame_set(int(frame))
            depsgraph = context.evaluated_depsgraph_get()
            evaluated = source.evaluated_get(depsgraph)
            world = _matrix(evaluated.matrix_world)
            bones = evaluated.pose.bones  # type: ignore[union-attr]
            posed[t] = np.array([world[:3, :3] @ _matrix(bones[s].matrix)[:3, :3] for _, s, _ in pairs])
            fixed[t] = np.array([_matrix(target_pose[n].matrix_basis)[:3, :3] for n in names])
            if root is not None:
                root_heads[t] = world[:3, :3] @ _matrix(bones[root[1]].head) + world[:3, 3]
            if solver is not None:
                bases[t] = solver.base(target, depsgraph)
    finally:
        scene.frame_set(current)

    wanted = retarget.retarget_world_rotations(
        source_rest, retarget.orthonormal(posed), target_rest_world, alignment
    )
    world_arm = np.broadcast_to(np.eye(3), (count, len(names), 3, 3)).copy()
    world_arm[:, mapped_idx] = np.swapaxes(target_rot, -1, -2) @ wanted
    local = retarget.world_to_local_rotations(
        world_arm, rest_arm, parents, mapped, retarget.orthonormal(fixed)
    )
    quats = bone_frames.continuous_quaternions(rotations.matrix_to_quaternion(local[:, mapped_idx]))

    swap = rig_pose.use_new_action(target, f"{source.name} to {target.name}") if new_action else None
    try:
        action = rig_pose.ensure_action(target)
        result.action = action.name
        keyed = frames.astype(np.float64)
        rig_pose.key_rotations(target, action, [names[i] for i in mapped_idx], keyed, quats)
        if solver is not None and root is not None:
            ratio = 1.0
            if root_motion == "SCALED":
                src_leg = _leg_length(source, source_world0, by_joint_src)
                dst_leg = _leg_length(target, target_world, by_joint_dst)
                if src_leg and dst_leg:
                    ratio = dst_leg / src_leg
                else:
                    result.warnings.append("the legs are not mapped, so root motion is not scaled")
            result.ratio, result.root_bone = ratio, root[2]
            source_rest_root = (
                source_world0[:3, :3] @ _matrix(source_bones[root[1]].head_local) + source_world0[:3, 3]
            )
            target_rest_root = target_world[:3, :3] @ solver.rest_head + target_world[:3, 3]
            world_heads = retarget.scale_root_motion(root_heads, source_rest_root, target_rest_root, ratio)
            inverse = np.linalg.inv(target_world)
            arm_heads = world_heads @ inverse[:3, :3].T + inverse[:3, 3]
            locations = np.array([solver.location(bases[t], arm_heads[t]) for t in range(count)])
            rig_pose.key_locations(target, action, root[2], keyed, locations)
    except BaseException:
        if swap is not None:
            swap.undo()
        raise
    result.frames = count
    result.seconds = time.perf_counter() - started
    return result
