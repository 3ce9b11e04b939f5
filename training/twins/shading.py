"""Torch twin of core/avatar/shading.py: the normal shading's change of each Gaussian's SH DC.

The numpy code adds ``S (n - n_rest)`` to the file's ``f_dc``; the trainer learns ``S`` with
``SH DC = dc' + S n`` (no rest normal while training) and exports ``f_dc = dc' + S n_rest``, which
gives the same colours. ``rest_normal=None`` is the trainer's form, a tensor the file's."""

from __future__ import annotations

import torch


def dc_delta(
    matrix: torch.Tensor,
    face_rotations: torch.Tensor,
    parent_face: torch.Tensor,
    rest_normal: torch.Tensor | None = None,
) -> torch.Tensor:
    """(..., G, 3) DC change: ``matrix`` (G,3,3), the posed faces' frames (..., F, 3, 3) whose z
    columns are the unit normals, each Gaussian's face, and optionally its rest normal (G,3)."""
    normal = face_rotations[..., parent_face.long(), :, 2]
    if rest_normal is not None:
        normal = normal - rest_normal
    return torch.einsum("gcd,...gd->...gc", matrix, normal)
