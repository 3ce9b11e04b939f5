"""Torch twin of core/avatar/sh.py: real spherical harmonics to degree 3 in the 3DGS sign
convention, and view-dependent colour max(SH(d) . coeffs + 0.5, 0). Differentiable."""

from __future__ import annotations

import torch

from core.avatar.gaussians import SH_C0
from core.avatar.sh import SH_C1, SH_C2, SH_C3


def sh_basis(dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """(..., 3) unit directions -> (..., (degree+1)^2)."""
    if not 0 <= degree <= 3:
        raise ValueError(f"SH degree {degree} is not in 0-3")
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        out += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [
            SH_C2[0] * x * y,
            SH_C2[1] * y * z,
            SH_C2[2] * (2.0 * zz - xx - yy),
            SH_C2[3] * x * z,
            SH_C2[4] * (xx - yy),
        ]
    if degree >= 3:
        out += [
            SH_C3[0] * y * (3.0 * xx - yy),
            SH_C3[1] * x * y * z,
            SH_C3[2] * y * (4.0 * zz - xx - yy),
            SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            SH_C3[4] * x * (4.0 * zz - xx - yy),
            SH_C3[5] * z * (xx - yy),
            SH_C3[6] * x * (xx - 3.0 * yy),
        ]
    return torch.stack(out, dim=-1)


def sh_to_rgb(sh: torch.Tensor, dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """(..., K, 3) coefficients, (..., 3) directions (normalised here) -> (..., 3) colour."""
    used = (degree + 1) ** 2
    if used > sh.shape[-2]:
        raise ValueError(f"SH degree {degree} needs {used} coefficients, the Gaussians have {sh.shape[-2]}")
    unit = dirs / torch.linalg.vector_norm(dirs, dim=-1, keepdim=True).clamp_min(1e-12)
    basis = sh_basis(unit, degree)
    rgb = (basis[..., None] * sh[..., :used, :]).sum(-2)
    return torch.clamp_min(rgb + 0.5, 0.0)
