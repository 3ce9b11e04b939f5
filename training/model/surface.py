"""Initial Gaussians on the rig's rest surface: area-weighted, at least one per face."""

from __future__ import annotations

import torch

from training.twins.binding import face_frames


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
    frames = face_frames(v, f)
    origin, rot, size = frames.origins, frames.rotations, frames.sizes
    local = torch.einsum("nji,nj->ni", rot[parent], points - origin[parent]) / size[parent, None]
    per_face = torch.bincount(parent, minlength=num_faces)
    return parent, local, per_face
