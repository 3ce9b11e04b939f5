"""Retargeting maths on bone matrices (bpy-free): motion from one skeleton onto another whose bones
point and roll however their makers chose, and whose rest pose differs (T-pose vs A-pose).

What must match is what an animator sees: each mapped bone's LIMB, the line from its joint to its
mapped child's joint, points the same way in world space, and twists the same way about itself.
Per mapped bone a limb frame F (columns: twist reference, limb direction, their cross product) is
built from the rig's joints alone (``limb_frames``), never from the bone's own axes. With S0, S the
source bone's rest and posed world rotations, Fs(t) the source limb frame as posed and Ft0, T0 the
target's rest limb frame and rest rotation:
    T = Fs(t) Ft0^T T0      so that   T T0^-1 Ft0 = Fs(t): the target limb frame is the source's.
The twist reference is a body axis (forward for arms and hands, left for the rest) made
perpendicular to the limb at rest, so it means the same on both rigs. A bone with no mapped child
(a leaf, or a limb the bone map leaves out) takes its nearest mapped ancestor's rest frame and so
turns as its source bone turns, relative to that. Root motion scales by leg length about the floor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .bone_maps import ARM_JOINTS, FOOT_JOINTS, LEG_JOINTS, canonical_parent, limb_child


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def shortest_arc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(...,3,3) rotations taking unit directions a onto b along the shortest arc."""
    a, b = _normalize(np.asarray(a, float)), _normalize(np.asarray(b, float))
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    cos = np.sum(a * b, axis=-1, keepdims=True)
    # Opposite directions: turn half-way round any axis perpendicular to a.
    helper = np.where(np.abs(a[..., :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    fallback = _normalize(np.cross(a, helper))
    axis = np.where(sin < 1e-9, fallback, axis / np.maximum(sin, 1e-12))
    angle = np.arctan2(sin, cos)[..., 0]
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape((*x.shape, 3, 3))
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


# Below this sine a limb counts as parallel to its twist reference, which then yields to the other.
_PARALLEL_SINE = 0.3


def body_axes(heads: Mapping[str, np.ndarray]) -> np.ndarray:
    """The body's (left, forward, up) unit axes (3,3 columns) from rest joint positions by canonical
    name (world space). Up runs from the pelvis to the highest spine joint mapped, left from the
    right hip (or shoulder, or collar) to the left one; world +X / -Y / +Z stand in for what is missing."""
    up = np.array([0.0, 0.0, 1.0])
    if "pelvis" in heads:
        top = next((j for j in ("neck", "spine3", "spine2", "spine1", "head") if j in heads), None)
        if top is not None and np.linalg.norm(heads[top] - heads["pelvis"]) > 1e-9:
            up = _normalize(np.asarray(heads[top], float) - np.asarray(heads["pelvis"], float))
    left = np.array([1.0, 0.0, 0.0])
    for pair in ("hip", "shoulder", "collar"):
        a, b = f"left_{pair}", f"right_{pair}"
        if a in heads and b in heads and np.linalg.norm(heads[a] - heads[b]) > 1e-9:
            left = np.asarray(heads[a], float) - np.asarray(heads[b], float)
            break
    left = left - (left @ up) * up
    if np.linalg.norm(left) < 1e-9:  # no side-to-side joints off the spine line
        left = np.cross(np.array([0.0, -1.0, 0.0]), up)
    left = _normalize(left)
    return np.stack([left, np.cross(left, up), up], axis=1)


def twist_references(joints: Sequence[str], directions: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """(N,3) unit twist references perpendicular to each limb direction (N,3): the body's forward
    axis for arm and hand joints (limbs that run sideways), its left axis for the others (limbs
    that run up, down or forward); the other one where the limb lies along the chosen axis."""
    left, forward = axes[:, 0], axes[:, 1]
    out = np.empty((len(joints), 3))
    for i, joint in enumerate(joints):
        d = _normalize(np.asarray(directions[i], float))
        first, second = (forward, left) if joint in ARM_JOINTS else (left, forward)
        ref = first - (first @ d) * d
        if np.linalg.norm(ref) < _PARALLEL_SINE:
            ref = second - (second @ d) * d
        out[i] = _normalize(ref)
    return out


def limb_frames(directions: np.ndarray, references: np.ndarray) -> np.ndarray:
    """(...,3,3) rotations with columns (reference made perpendicular, direction, their cross)."""
    y = _normalize(np.asarray(directions, float))
    ref = np.asarray(references, float)
    x = _normalize(ref - np.sum(ref * y, axis=-1, keepdims=True) * y)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def limb_children(joints: Sequence[str]) -> list[int]:
    """For each mapped canonical joint, the index (into joints) of the mapped child its limb aims
    at, or -1 where there is none (a leaf, or a child the bone map leaves out)."""
    index = {j: i for i, j in enumerate(joints)}
    return [index.get(limb_child(j) or "", -1) for j in joints]


def missing_limbs(joints: Sequence[str]) -> list[str]:
    """Mapped joints whose limb child exists in the skeleton but is not mapped."""
    mapped = set(joints)
    return [j for j in joints if (child := limb_child(j)) is not None and child not in mapped]


def frame_owners(joints: Sequence[str], children: Sequence[int]) -> list[int]:
    """Per mapped joint, the index of the joint whose limb frame it uses: itself when it has a
    limb, else its nearest mapped ancestor that has one (-1: none, the body axes stand in)."""
    index = {j: i for i, j in enumerate(joints)}
    owners = []
    for joint in joints:
        current: str | None = joint
        owner = -1
        while current is not None:
            k = index.get(current, -1)
            if k >= 0 and children[k] >= 0:
                owner = k
                break
            current = canonical_parent(current)
        owners.append(owner)
    return owners


def rest_limb_frames(
    joints: Sequence[str], heads: np.ndarray, axes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rest limb frames (N,3,3) of mapped joints from their rest heads (N,3, world) and each
    joint's frame owner (``frame_owners``). Joints without a limb of their own share their owner's
    frame; the body axes (left, forward, up) serve those that have no owner."""
    heads = np.asarray(heads, float)
    if axes is None:
        axes = body_axes(dict(zip(joints, heads, strict=True)))
    children = limb_children(joints)
    owners = frame_owners(joints, children)
    has_limb = np.array([c >= 0 for c in children])
    directions = np.where(has_limb[:, None], heads[np.maximum(children, 0)] - heads, axes[:, 2])
    refs = twist_references(joints, directions, axes)
    own = limb_frames(directions, refs)
    frames = np.empty((len(joints), 3, 3))
    for i, owner in enumerate(owners):
        frames[i] = own[owner] if owner >= 0 else axes
    return frames, np.array(owners)


def posed_limb_frames(
    rest_frames: np.ndarray,
    rest_rotations: np.ndarray,
    posed_rotations: np.ndarray,
    posed_directions: np.ndarray | None = None,
) -> np.ndarray:
    """Limb frames as posed (F,N,3,3): the rest frames (N,3,3) carried by each bone's turn from
    its rest rotation (N,3,3) to its posed rotation (F,N,3,3). Where posed_directions (F,N,3; NaN
    rows: none) are given, the limb axis is set to them exactly and the twist reference follows,
    so a stretched or translated child still gets its direction matched."""
    carried = posed_rotations @ np.swapaxes(rest_rotations, -1, -2) @ rest_frames
    if posed_directions is None:
        return carried
    measured = np.isfinite(posed_directions).all(axis=-1)
    exact = limb_frames(np.where(measured[..., None], posed_directions, carried[..., 1]), carried[..., 0])
    return np.where(measured[..., None, None], exact, carried)


def retarget_world_rotations(
    source_frames: np.ndarray, target_rest_frames: np.ndarray, target_rest: np.ndarray
) -> np.ndarray:
    """Target world rotations (F,N,3,3) that carry the target's rest limb frames (N,3,3) onto the
    source's posed limb frames (F,N,3,3): T = Fs Ft0^T T0, T0 the target's rest rotations (N,3,3)."""
    return source_frames @ np.swapaxes(target_rest_frames, -1, -2) @ target_rest


def world_to_local_rotations(
    world: np.ndarray,
    rest_world: np.ndarray,
    parents: np.ndarray,
    mapped: np.ndarray | None = None,
    fixed_local: np.ndarray | None = None,
) -> np.ndarray:
    """Pose-bone rotations (relative to each bone's rest, in its own rest frame) that give the
    wanted world rotations. world (F,N,3,3), rest_world (N,3,3), parents (N,) with -1 for roots,
    parents first. Blender composes  world_j = world_p rest_p^-1 rest_j L_j,  hence
    L_j = rest_j^-1 rest_p world_p^-1 world_j. Bones not in ``mapped`` keep their ``fixed_local``
    rotation (F,N,3,3; default I) and follow their parent."""
    frames, count = world.shape[0], world.shape[1]
    mapped = np.ones(count, bool) if mapped is None else np.asarray(mapped, bool)
    if fixed_local is None:
        local = np.broadcast_to(np.eye(3), world.shape).copy()
    else:
        local = np.array(np.broadcast_to(fixed_local, world.shape), dtype=np.float64)
    final = np.empty_like(world)
    rest_inv = np.swapaxes(rest_world, -1, -2)
    for j, p in enumerate(parents):
        # The rotation bone j has in world space when its own pose rotation is the identity.
        base = (
            np.broadcast_to(rest_world[j], (frames, 3, 3))
            if p < 0
            else final[:, p] @ rest_inv[p] @ rest_world[j]
        )
        if mapped[j]:
            local[:, j] = np.swapaxes(base, -1, -2) @ world[:, j]
        final[:, j] = base @ local[:, j]
    return local


def leg_length(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray) -> float:
    return float(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))


def orthonormal(matrices: np.ndarray) -> np.ndarray:
    """The nearest rotations (...,3,3) to matrices with scale or float32 noise (polar decomposition)."""
    u, _, vt = np.linalg.svd(np.asarray(matrices, dtype=np.float64))
    fix = np.where(np.linalg.det(u @ vt) < 0, -1.0, 1.0)
    u[..., :, 2] *= fix[..., None]
    return u @ vt


def scale_root_motion(
    source_root: np.ndarray, source_anchor: np.ndarray, target_anchor: np.ndarray, ratio: float
) -> np.ndarray:
    """Target root positions (F,3): the source root's offset from its anchor, times ratio (target
    leg length / source leg length), added to the target's anchor. With anchors on each rig's floor
    (``floor_anchor``) the hips keep their height in leg lengths and the feet stay on the ground."""
    return target_anchor + (np.asarray(source_root, float) - source_anchor) * ratio


def floor_anchor(rest_root: np.ndarray, floor_height: float, up: int = 2) -> np.ndarray:
    """The rest root dropped onto the floor (the ``up`` coordinate set to floor_height)."""
    anchor = np.array(rest_root, dtype=np.float64)
    anchor[up] = floor_height
    return anchor


def mean_leg_length(heads: Mapping[str, np.ndarray]) -> float | None:
    """Mean hip-knee-ankle length over the legs whose three joints are given (by canonical name)."""
    lengths = [
        leg_length(*(np.asarray(heads[j], float) for j in leg))
        for leg in LEG_JOINTS
        if all(j in heads for j in leg)
    ]
    return float(np.mean(lengths)) if lengths else None


def limb_angles(source_heads: np.ndarray, target_heads: np.ndarray, joints: Sequence[str]) -> np.ndarray:
    """Degrees (F,K) between the source's and the target's limb directions, for the K mapped joints
    with a mapped limb child, from posed world heads (F,N,3) of both rigs in the order of joints."""
    children = np.array(limb_children(joints))
    has = children >= 0
    a = _normalize(source_heads[:, children[has]] - source_heads[:, has])
    b = _normalize(target_heads[:, children[has]] - target_heads[:, has])
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def hips_over_feet(heads: np.ndarray, joints: Sequence[str], leg: float, up: int = 2) -> np.ndarray:
    """(F,) the pelvis' height over the lowest foot joint on each frame, in leg lengths, from posed
    world heads (F,N,3) in the order of joints (which must hold the pelvis and a foot joint)."""
    feet = [i for i, j in enumerate(joints) if j in FOOT_JOINTS]
    pelvis = list(joints).index("pelvis")
    return (heads[:, pelvis, up] - heads[:, feet, up].min(axis=1)) / leg
