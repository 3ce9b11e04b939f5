"""GaussianAvatars' triangle frames, and their conversion into our binding (docs/DESIGN.md).

Their convention (the GaussianAvatars paper): a triangle (v0, v1, v2) has origin
``o = (v0 + v1 + v2) / 3`` and rotation ``R = [e, n, -normalize(n x e)]`` (columns) with
``e = normalize(v1 - v0)`` and ``n = normalize((v1 - v0) x (v2 - v0))``; its scale ``k`` is the mean of
``|v1 - v0|`` and the height of v2 over that edge. A Gaussian stored local to the triangle is placed at
``R p k + o`` with scale ``s k`` and rotation ``quat(R) q``.

Ours: ``R = [x, y, z]`` with ``x = e``, ``z = n``, ``y = z x x``, and ``k`` the mean edge length. Their
columns are (x, z, -y), so ``R_ours^T R_theirs`` is the same quarter turn about x for every
non-degenerate triangle: rotations convert exactly under any deformation. Offsets and scales convert
through the ratio of the two sizes, which depends on the triangle's shape: exact on the mesh the
conversion is made on (the rest mesh), close wherever the triangles keep their shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..avatar.binding import FRAME_EPS, Binding, face_frames
from ..avatar.gaussians import GaussianSet
from ..avatar.quaternion import quat_multiply, quat_normalize
from ..rotations import matrix_to_quaternion

# R_ours^T R_theirs: their columns (x, z, -y) in our frame, a +90 degree turn about x.
THEIRS_IN_OURS = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
THEIRS_IN_OURS_QUAT = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0])  # quat(THEIRS_IN_OURS)


@dataclass(frozen=True)
class TriangleFrames:
    """Per-face origin (F,3), rotation (F,3,3) (columns are the axes) and scale (F,), float64."""

    origins: np.ndarray
    rotations: np.ndarray
    sizes: np.ndarray


def _normalize(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    length = np.linalg.norm(v, axis=-1)
    return v / np.maximum(length, FRAME_EPS)[..., None], length


def ga_triangle_frames(vertices: np.ndarray, faces: np.ndarray) -> TriangleFrames:
    """GaussianAvatars' frame of every triangle (vertices (V,3), faces (F,3))."""
    v = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    v0, v1, v2 = v[:, 0], v[:, 1], v[:, 2]
    edge = v1 - v0
    e, edge_length = _normalize(edge)
    normal = np.cross(edge, v2 - v0)
    n, area2 = _normalize(normal)
    third, _ = _normalize(np.cross(n, e))
    rotations = np.stack([e, n, -third], axis=-1)
    height = area2 / np.maximum(edge_length, FRAME_EPS)  # |e1 x e2| / |e1|
    return TriangleFrames(v.mean(axis=1), rotations, 0.5 * (edge_length + height))


def ga_world_gaussians(
    vertices: np.ndarray, faces: np.ndarray, parent_face: np.ndarray, local: GaussianSet
) -> GaussianSet:
    """Their Gaussians (stored local to their triangles) placed on a mesh by their convention."""
    frames = ga_triangle_frames(vertices, faces)
    pf = np.asarray(parent_face)
    rot, k = frames.rotations[pf], frames.sizes[pf]
    means = (
        np.einsum("gij,gj->gi", rot, np.asarray(local.means, np.float64)) * k[:, None] + frames.origins[pf]
    )
    quats = quat_multiply(matrix_to_quaternion(rot), quat_normalize(np.asarray(local.quats, np.float64)))
    log_scales = np.asarray(local.log_scales, np.float64) + np.log(np.maximum(k, FRAME_EPS))[:, None]
    return GaussianSet(means, quats, log_scales, np.asarray(local.opacity_logits), np.asarray(local.sh))


def ga_to_binding(
    vertices: np.ndarray, faces: np.ndarray, parent_face: np.ndarray, local: GaussianSet
) -> Binding:
    """Our binding of their Gaussians, made on ``vertices`` (the rest mesh): on that mesh the two
    conventions place every Gaussian identically. float32 arrays, as the avatar file stores them."""
    pf = np.asarray(parent_face)
    theirs = ga_triangle_frames(vertices, faces)
    ours = face_frames(vertices, faces)
    ratio = theirs.sizes[pf] / np.maximum(ours.sizes[pf], FRAME_EPS)
    offset = np.asarray(local.means, np.float64) @ THEIRS_IN_OURS.T * ratio[:, None]
    rotation = quat_multiply(
        np.broadcast_to(THEIRS_IN_OURS_QUAT, (len(pf), 4)),
        quat_normalize(np.asarray(local.quats, np.float64)),
    )
    log_scale = np.asarray(local.log_scales, np.float64) + np.log(np.maximum(ratio, FRAME_EPS))[:, None]
    return Binding(
        parent_face=pf.astype(np.int32),
        offset=offset.astype(np.float32),
        rotation=rotation.astype(np.float32),
        log_scale=log_scale.astype(np.float32),
    )
