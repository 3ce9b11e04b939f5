"""Retargeting maths on bone matrices (bpy-free): motion from one skeleton onto another whose rest
pose differs (T-pose vs A-pose), so that every mapped bone points the same way in world space.

Per mapped bone with source rest/posed world rotations S0, S and target rest rotation T0, with O
the shortest rotation taking the target's rest direction onto the source's rest direction:
    T = S S0^-1 O T0      so that   T y_axis = S S0^-1 (source rest direction) = source direction.
Bones point along their local +Y (Blender's convention). Root motion scales by leg length.
"""

from __future__ import annotations

import numpy as np


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


def rest_alignment(source_rest: np.ndarray, target_rest: np.ndarray) -> np.ndarray:
    """O per bone: (N,3,3) world rest rotations of source and target bones -> (N,3,3)."""
    return shortest_arc(target_rest[..., :, 1], source_rest[..., :, 1])


def retarget_world_rotations(
    source_rest: np.ndarray,
    source_posed: np.ndarray,
    target_rest: np.ndarray,
    alignment: np.ndarray | None = None,
) -> np.ndarray:
    """Target world rotations (F,N,3,3) from source posed world rotations (F,N,3,3)."""
    if alignment is None:
        alignment = rest_alignment(source_rest, target_rest)
    delta = source_posed @ np.swapaxes(source_rest, -1, -2)
    return delta @ (alignment @ target_rest)


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
    source_root: np.ndarray, source_rest_root: np.ndarray, target_rest_root: np.ndarray, ratio: float
) -> np.ndarray:
    """Target root positions (F,3): the source's displacement from its rest root, times ratio
    (target leg length / source leg length), added to the target's rest root."""
    return target_rest_root + (source_root - source_rest_root) * ratio
