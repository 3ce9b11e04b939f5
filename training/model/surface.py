"""Initial Gaussians on the rig's rest surface: area-weighted, at least one per face."""

from __future__ import annotations

import torch


def face_frames(
    vertices: torch.Tensor, faces: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Face origins (F,3), frames R (F,3,3) (columns x, y, z) and sizes k (F,) per docs/DESIGN.md.

    Used here only to express the initial points in face coordinates; the trainer's forward
    uses the binding's torch twin (training/gaussians/binding_torch.py).
    """
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    origin = (a + b + c) / 3.0
    e1 = b - a
    x = e1 / e1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    n = torch.cross(e1, c - a, dim=-1)
    z = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    y = torch.cross(z, x, dim=-1)
    frames = torch.stack([x, y, z], dim=-1)
    size = ((b - a).norm(dim=-1) + (c - b).norm(dim=-1) + (a - c).norm(dim=-1)) / 3.0
    return origin, frames, size


def face_areas(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return 0.5 * torch.cross(b - a, c - a, dim=-1).norm(dim=-1)


def sample_surface(
    vertices: torch.Tensor, faces: torch.Tensor, count: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``count`` points on the surface: every face gets one, the rest go by face area.

    Returns (parent_face (N,), local offset (N,3) in face units, points per face (F,)).
    If ``count`` is below the face count, faces are drawn by area without replacement.
    """
    num_faces = faces.shape[0]
    areas = face_areas(vertices, faces).double()
    weights = areas.clamp_min(1e-20).cpu()
    if count <= num_faces:
        parent = torch.multinomial(weights, count, replacement=False, generator=generator)
    else:
        extra = torch.multinomial(weights, count - num_faces, replacement=True, generator=generator)
        parent = torch.cat([torch.arange(num_faces), extra])
    parent = parent.sort().values
    # Uniform points in each triangle (folded barycentric square).
    uv = torch.rand(parent.shape[0], 2, generator=generator, dtype=torch.float64)
    flip = uv.sum(-1) > 1
    uv[flip] = 1 - uv[flip]
    v = vertices.double().cpu()
    f = faces.long().cpu()
    a, b, c = v[f[parent, 0]], v[f[parent, 1]], v[f[parent, 2]]
    points = a + uv[:, :1] * (b - a) + uv[:, 1:] * (c - a)
    origin, frames, size = face_frames(v, f)
    local = torch.einsum("nji,nj->ni", frames[parent], points - origin[parent]) / size[parent, None]
    per_face = torch.bincount(parent, minlength=num_faces)
    return parent, local, per_face
