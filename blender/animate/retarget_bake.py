"""Baking motion from one armature onto another, bone by bone, as keyframes.

Per frame the source's evaluated bones give world rotations and joint positions;
``core.motion.retarget`` turns them into target world rotations whose limbs (joint to mapped
child joint) point and twist as the source's do, whichever way either rig's bones point or roll and
whatever their rest poses, then into the target's pose-bone rotations through its own hierarchy
(``solve``). Unmapped target bones keep their own animation. Root motion follows the source root's
height over its floor (its lowest foot over the frames) and its horizontal travel, scaled by the
ratio of leg lengths, from the target's floor (its feet at rest). ``bake`` keys the solution;
``retarget_preview`` shows it as ghosts.
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


def rest_heads(armature: Object, depsgraph: bpy.types.Depsgraph) -> dict[str, np.ndarray]:
    """World rest heads of every bone, as the rig is now shaped: each child's head is read off the
    evaluated pose in its parent's axes (a pose does not change it; a joint-shifting constraint, as
    the SMPL-X rigs' shape has, does) and laid out again from the rest orientations."""
    bones = armature.data.bones  # type: ignore[union-attr]
    evaluated = armature.evaluated_get(depsgraph)
    pose = evaluated.pose.bones  # type: ignore[union-attr]
    world = _matrix(evaluated.matrix_world)
    names, parents = hierarchy(armature)
    rest = np.empty((len(names), 3))
    for i, (name, p) in enumerate(zip(names, parents, strict=True)):
        if p < 0:
            rest[i] = _matrix(bones[name].head_local)
            continue
        parent = names[p]
        turn = retarget.orthonormal(_matrix(pose[parent].matrix)[:3, :3])
        offset = turn.T @ (_matrix(pose[name].head) - _matrix(pose[parent].head))
        rest[i] = rest[p] + _matrix(bones[parent].matrix_local)[:3, :3] @ offset
    return {n: world[:3, :3] @ rest[i] + world[:3, 3] for i, n in enumerate(names)}


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


@dataclass
class Solution:
    """What a retarget puts on the target, frame by frame, before it is keyed or shown."""

    frames: np.ndarray  # (F,) scene frames
    bones: list[str]  # target bones whose rotations are set
    quaternions: np.ndarray  # (F,B,4) their pose rotations
    others: list[str]  # unmapped target bones
    other_matrices: np.ndarray  # (F,O,3,3) their own pose rotations, kept
    root_bone: str = ""
    locations: np.ndarray | None = None  # (F,3) the root bone's pose location
    ratio: float = 1.0
    warnings: list[str] = field(default_factory=list)


def limb_warning(pairs: list[Pair]) -> str | None:
    """A one-sentence warning naming the mapped bones whose limb child the map leaves out."""
    joints = [j for j, _, _ in pairs]
    target_of = {j: d for j, _, d in pairs}
    missing = retarget.missing_limbs(joints)
    if not missing:
        return None
    named = ", ".join(f"{target_of[j]} ({j} without {bone_maps.limb_child(j)})" for j in missing[:6])
    more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
    return (
        f"the bone map leaves out a limb: {named}{more}; these bones only turn with their parents' "
        "limbs, their own direction is not matched"
    )


def _floor(heads: dict[str, np.ndarray], joints: list[str]) -> float | None:
    feet = [heads[j][2] for j in bone_maps.FOOT_JOINTS if j in joints and j in heads]
    return float(min(feet)) if feet else None


def solve(
    context: Context,
    source: Object,
    target: Object,
    pairs: list[Pair],
    frames: list[int] | np.ndarray,
    root_motion: str = "SCALED",
) -> Solution:
    """The target's pose on each of the given frames that matches the source's limbs (see
    ``core.motion.retarget``), with root motion scaled by leg length about each rig's floor."""
    pairs = check_pairs(source, target, pairs)
    frames = np.asarray(frames, dtype=np.int64)
    if frames.size == 0:
        raise AnimateError("There are no frames to retarget.")
    scene = context.scene
    current = scene.frame_current
    joints = [j for j, _, _ in pairs]
    src_bones = [s for _, s, _ in pairs]
    dst_bones = [d for _, _, d in pairs]
    names, parents = hierarchy(target)
    index = {n: i for i, n in enumerate(names)}
    mapped_idx = np.array([index[d] for d in dst_bones])
    mapped = np.zeros(len(names), bool)
    mapped[mapped_idx] = True
    target_data = target.data.bones  # type: ignore[union-attr]
    source_data = source.data.bones  # type: ignore[union-attr]
    rest_arm = retarget.orthonormal(np.array([_matrix(target_data[n].matrix_local)[:3, :3] for n in names]))
    warnings = [w for w in (limb_warning(pairs),) if w]
    root = next((p for p in pairs if p[0] == "pelvis"), None)
    children = retarget.limb_children(joints)

    count = frames.shape[0]
    posed = np.empty((count, len(pairs), 3, 3))
    posed_heads = np.empty((count, len(pairs), 3))
    fixed = np.empty((count, len(names), 3, 3))
    bases = np.empty((count, 4, 4))
    target_pose = target.pose.bones  # type: ignore[union-attr]
    try:
        scene.frame_set(int(frames[0]))
        depsgraph = context.evaluated_depsgraph_get()
        source_world = retarget.orthonormal(_matrix(source.evaluated_get(depsgraph).matrix_world)[:3, :3])
        target_world = _matrix(target.evaluated_get(depsgraph).matrix_world)
        target_rot = retarget.orthonormal(target_world[:3, :3])
        src_rest_heads = rest_heads(source, depsgraph)
        dst_rest_heads = rest_heads(target, depsgraph)
        solver = (
            _RootSolver(target, root[2], depsgraph) if root is not None and root_motion != "NONE" else None
        )
        for t, frame in enumerate(frames):
            scene.frame_set(int(frame))
            depsgraph = context.evaluated_depsgraph_get()
            evaluated = source.evaluated_get(depsgraph)
            world = _matrix(evaluated.matrix_world)
            bones = evaluated.pose.bones  # type: ignore[union-attr]
            posed[t] = np.array([world[:3, :3] @ _matrix(bones[s].matrix)[:3, :3] for s in src_bones])
            posed_heads[t] = np.array(
                [world[:3, :3] @ _matrix(bones[s].head) + world[:3, 3] for s in src_bones]
            )
            fixed[t] = np.array([_matrix(target_pose[n].matrix_basis)[:3, :3] for n in names])
            if solver is not None:
                bases[t] = solver.base(target, depsgraph)
    finally:
        scene.frame_set(current)

    # Limb frames of both rigs at rest, from their joints; the source's as posed, from its bones.
    src_heads = np.array([src_rest_heads[s] for s in src_bones])
    dst_heads = np.array([dst_rest_heads[d] for d in dst_bones])
    src_frames, _ = retarget.rest_limb_frames(joints, src_heads)
    dst_frames, _ = retarget.rest_limb_frames(joints, dst_heads)
    src_rest = retarget.orthonormal(
        np.array([source_world @ _matrix(source_data[s].matrix_local)[:3, :3] for s in src_bones])
    )
    has_child = np.array(children) >= 0
    directions = np.full_like(posed_heads, np.nan)
    directions[:, has_child] = posed_heads[:, np.array(children)[has_child]] - posed_heads[:, has_child]
    source_frames = retarget.posed_limb_frames(src_frames, src_rest, retarget.orthonormal(posed), directions)
    dst_rest = target_rot @ rest_arm[mapped_idx]
    wanted = retarget.retarget_world_rotations(source_frames, dst_frames, dst_rest)
    world_arm = np.broadcast_to(np.eye(3), (count, len(names), 3, 3)).copy()
    world_arm[:, mapped_idx] = np.swapaxes(target_rot, -1, -2) @ wanted
    local = retarget.world_to_local_rotations(
        world_arm, rest_arm, parents, mapped, retarget.orthonormal(fixed)
    )
    quats = bone_frames.continuous_quaternions(rotations.matrix_to_quaternion(local[:, mapped_idx]))
    others = [i for i in range(len(names)) if not mapped[i]]
    solution = Solution(
        frames=frames,
        bones=dst_bones,
        quaternions=quats,
        others=[names[i] for i in others],
        other_matrices=local[:, others],
        warnings=warnings,
    )
    if root is None:
        if root_motion != "NONE":
            warnings.append("the pelvis / hips is not mapped, so there is no root motion")
        return solution
    if solver is None:
        return solution

    src_by_joint = {j: src_rest_heads[s] for j, s, _ in pairs}
    dst_by_joint = {j: dst_rest_heads[d] for j, _, d in pairs}
    ratio = 1.0
    if root_motion == "SCALED":
        src_leg, dst_leg = retarget.mean_leg_length(src_by_joint), retarget.mean_leg_length(dst_by_joint)
        if src_leg and dst_leg:
            ratio = dst_leg / src_leg
        else:
            warnings.append("the legs are not mapped, so root motion is not scaled")
    # Each rig's floor: the lowest foot joint the source reaches over the frames, the target's at rest.
    src_root_rest = src_rest_heads[root[1]]
    dst_root_rest = target_world[:3, :3] @ solver.rest_head + target_world[:3, 3]
    feet = [i for i, j in enumerate(joints) if j in bone_maps.FOOT_JOINTS]
    dst_floor = _floor(dst_by_joint, joints)
    if feet and dst_floor is not None:
        src_anchor = retarget.floor_anchor(src_root_rest, float(posed_heads[:, feet, 2].min()))
        dst_anchor = retarget.floor_anchor(dst_root_rest, dst_floor)
    else:
        src_anchor, dst_anchor = src_root_rest, dst_root_rest
        warnings.append("the feet are not mapped, so the root moves from its rest place, not the floor")
    root_heads = posed_heads[:, joints.index("pelvis")]
    world_heads = retarget.scale_root_motion(root_heads, src_anchor, dst_anchor, ratio)
    inverse = np.linalg.inv(target_world)
    arm_heads = world_heads @ inverse[:3, :3].T + inverse[:3, 3]
    solution.locations = np.array([solver.location(bases[t], arm_heads[t]) for t in range(count)])
    solution.root_bone, solution.ratio = root[2], ratio
    return solution


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
    if frame_end < frame_start:
        raise AnimateError(f"The frame range {frame_start}..{frame_end} is empty.")
    solution = solve(context, source, target, pairs, np.arange(frame_start, frame_end + 1), root_motion)
    result = RetargetResult(bones=len(solution.bones), warnings=solution.warnings)
    swap = rig_pose.use_new_action(target, f"{source.name} to {target.name}") if new_action else None
    try:
        action = rig_pose.ensure_action(target)
        result.action = action.name
        keyed = solution.frames.astype(np.float64)
        rig_pose.key_rotations(target, action, solution.bones, keyed, solution.quaternions)
        if solution.locations is not None:
            rig_pose.key_locations(target, action, solution.root_bone, keyed, solution.locations)
            result.ratio, result.root_bone = solution.ratio, solution.root_bone
    except BaseException:
        if swap is not None:
            swap.undo()
        raise
    result.frames = int(solution.frames.shape[0])
    result.seconds = time.perf_counter() - started
    return result


def sample_heads(
    context: Context, armature: Object, bones: list[str], frames: list[int] | np.ndarray
) -> np.ndarray:
    """(F,N,3) world heads of the named pose bones on each frame (the scene's frame is put back)."""
    scene = context.scene
    current = scene.frame_current
    out = np.empty((len(frames), len(bones), 3))
    try:
        for t, frame in enumerate(frames):
            scene.frame_set(int(frame))
            evaluated = armature.evaluated_get(context.evaluated_depsgraph_get())
            world = _matrix(evaluated.matrix_world)
            pose = evaluated.pose.bones  # type: ignore[union-attr]
            out[t] = [world[:3, :3] @ _matrix(pose[b].head) + world[:3, 3] for b in bones]
    finally:
        scene.frame_set(current)
    return out
