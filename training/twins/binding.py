"""Torch twin of core/avatar/binding.py: triangle frames, binding -> world Gaussians, and the
low-rank dynamic blendshapes. Differentiable (autograd), any device and float dtype; the same
formulas and the same quaternion sign choice as the numpy code, so the two agree to rounding
(tests/training/twins/test_binding.py holds them within 1e-5 in float64, in practice ~1e-14).

Leading batch axes are allowed on the vertices (B,V,3) and on the dynamics features (B,E+P); the
binding itself is per Gaussian (G,...).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

FRAME_EPS = 1e-12  # as core.avatar.binding.FRAME_EPS
DYN_CHANNELS = 14


class TorchFaceFrames(NamedTuple):
    origins: torch.Tensor  # (...,F,3)
    rotations: torch.Tensor  # (...,F,3,3), columns x, y, z
    sizes: torch.Tensor  # (...,F)
    quats: torch.Tensor  # (...,F,4) unit, w >= 0


def _safe_normalize(v: torch.Tensor) -> torch.Tensor:
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True).clamp_min(FRAME_EPS)


def quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product a * b of (..., 4) tensors, w first."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def quat_normalize(q: torch.Tensor) -> torch.Tensor:
    return q / torch.linalg.vector_norm(q, dim=-1, keepdim=True).clamp_min(1e-12)


def matrix_to_quaternion(m: torch.Tensor) -> torch.Tensor:
    """(...,3,3) rotations -> (...,4) unit quaternions, w >= 0; divides by the first largest of
    4w^2, 4x^2, 4y^2, 4z^2, exactly as core.rotations.matrix_to_quaternion."""
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    d0, d1 = 1 + m00 + m11 + m22, 1 + m00 - m11 - m22
    d2, d3 = 1 - m00 + m11 - m22, 1 - m00 - m11 + m22
    s21, s02, s10 = m21 - m12, m02 - m20, m10 - m01
    a01, a02, a12 = m01 + m10, m02 + m20, m12 + m21
    candidates = torch.stack(
        [
            torch.stack([d0, s21, s02, s10], -1),
            torch.stack([s21, d1, a01, a02], -1),
            torch.stack([s02, a01, d2, a12], -1),
            torch.stack([s10, a02, a12, d3], -1),
        ],
        dim=-2,
    )  # (...,4 candidates,4)
    best = torch.stack([d0, d1, d2, d3], -1).argmax(-1)  # first maximum on ties
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def face_frames(vertices: torch.Tensor, faces: torch.Tensor) -> TorchFaceFrames:
    """Frames of every triangle: origin (a+b+c)/3, x = normalize(b-a), z = normalize((b-a)x(c-a)),
    y = z x x, size k = mean edge length. vertices (...,V,3), faces (F,3) integer."""
    faces = faces.long()
    a = vertices[..., faces[:, 0], :]
    b = vertices[..., faces[:, 1], :]
    c = vertices[..., faces[:, 2], :]
    ab, ac = b - a, c - a
    x = _safe_normalize(ab)
    z = _safe_normalize(torch.linalg.cross(ab, ac, dim=-1))
    y = torch.linalg.cross(z, x, dim=-1)
    rotations = torch.stack([x, y, z], dim=-1)
    norm = torch.linalg.vector_norm
    sizes = (norm(ab, dim=-1) + norm(c - b, dim=-1) + norm(ac, dim=-1)) / 3.0
    return TorchFaceFrames((a + b + c) / 3.0, rotations, sizes, matrix_to_quaternion(rotations))


def dynamic_deltas(basis: torch.Tensor, mix: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Per-Gaussian deltas of the dynamic blendshapes: basis (G,K,14) (the file's layout), mix
    (K,E+P), features (E+P,) or (B,E+P) -> (G,14) or (B,G,14). z = mix @ f; delta[g] = basis[g].T @ z."""
    z = features @ mix.T  # (...,K)
    return torch.einsum("gkc,...k->...gc", basis, z)


def bind(
    frames: TorchFaceFrames,
    parent_face: torch.Tensor,
    offset: torch.Tensor,
    rotation: torch.Tensor,
    log_scale: torch.Tensor,
    deltas: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """World means (...,G,3), unit quaternions (...,G,4) and log-scales (...,G,3) of bound Gaussians:
    mu = o + k R (offset + d_offset); q = quat(R) * normalize(q_local + d_rot);
    log s = log k + log_scale + d_log_scale. ``deltas`` (...,G,14) or None."""
    pf = parent_face.long()
    origin = frames.origins[..., pf, :]
    rot = frames.rotations[..., pf, :, :]
    k = frames.sizes[..., pf]
    face_q = frames.quats[..., pf, :]
    if deltas is not None:
        offset = offset + deltas[..., 0:3]
        rotation = rotation + deltas[..., 3:7]
        log_scale = log_scale + deltas[..., 7:10]
    means = origin + k[..., None] * (rot @ offset[..., None])[..., 0]
    quats = quat_multiply(face_q, quat_normalize(rotation))
    log_scales = log_scale + torch.log(k.clamp_min(FRAME_EPS))[..., None]
    return means, quats, log_scales


def unbind(
    frames: TorchFaceFrames,
    parent_face: torch.Tensor,
    means: torch.Tensor,
    quats: torch.Tensor,
    log_scales: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inverse of ``bind`` without dynamics: (offset, local rotation, local log-scale)."""
    pf = parent_face.long()
    rot = frames.rotations[..., pf, :, :]
    k = frames.sizes[..., pf].clamp_min(FRAME_EPS)
    offset = (rot.transpose(-1, -2) @ (means - frames.origins[..., pf, :])[..., None])[..., 0] / k[..., None]
    conj = frames.quats[..., pf, :] * frames.quats.new_tensor([1.0, -1.0, -1.0, -1.0])
    local = quat_multiply(conj, quat_normalize(quats))
    return offset, local, log_scales - torch.log(k)[..., None]
