"""Real spherical harmonics up to degree 3 in the 3DGS convention (signs and order as graphdeco and
gsplat use them), for view-dependent Gaussian colour: rgb = max(SH(d) . coeffs + 0.5, 0) with d the
unit direction from the camera centre to the Gaussian. Torch twin: training/twins/sh.py."""

from __future__ import annotations

import numpy as np

from .gaussians import SH_C0, sh_degree_for_coefficients

SH_C1 = 0.4886025119029199
SH_C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
SH_C3 = (
    -0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
    -0.4570457994644658, 1.445305721320277, -0.5900435899266435,
)  # fmt: skip


def sh_basis(dirs: np.ndarray, degree: int) -> np.ndarray:
    """(..., 3) unit directions -> (..., (degree+1)^2) basis values, in the directions' dtype."""
    if not 0 <= degree <= 3:
        raise ValueError(f"SH degree {degree} is not in 0-3")
    x, y, z = dirs[..., 0], dirs[..., 1], dirs[..., 2]
    out = np.empty(dirs.shape[:-1] + ((degree + 1) ** 2,), dtype=dirs.dtype)
    out[..., 0] = SH_C0
    if degree >= 1:
        out[..., 1] = -SH_C1 * y
        out[..., 2] = SH_C1 * z
        out[..., 3] = -SH_C1 * x
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out[..., 4] = SH_C2[0] * x * y
        out[..., 5] = SH_C2[1] * y * z
        out[..., 6] = SH_C2[2] * (2.0 * zz - xx - yy)
        out[..., 7] = SH_C2[3] * x * z
        out[..., 8] = SH_C2[4] * (xx - yy)
    if degree >= 3:
        out[..., 9] = SH_C3[0] * y * (3.0 * xx - yy)
        out[..., 10] = SH_C3[1] * x * y * z
        out[..., 11] = SH_C3[2] * y * (4.0 * zz - xx - yy)
        out[..., 12] = SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy)
        out[..., 13] = SH_C3[4] * x * (4.0 * zz - xx - yy)
        out[..., 14] = SH_C3[5] * z * (xx - yy)
        out[..., 15] = SH_C3[6] * x * (xx - 3.0 * yy)
    return out


def view_directions(means: np.ndarray, camera_position: np.ndarray) -> np.ndarray:
    """Unit directions from the camera centre to each Gaussian (zero stays zero)."""
    d = means - np.asarray(camera_position, dtype=means.dtype)
    norm = np.sqrt(np.einsum("...i,...i->...", d, d))[..., None]
    return d / np.maximum(norm, 1e-12)


def sh_to_rgb(sh: np.ndarray, dirs: np.ndarray, degree: int | None = None) -> np.ndarray:
    """(N, K, 3) coefficients and (N, 3) unit directions -> (N, 3) colour, max(value + 0.5, 0).
    ``degree`` (default: all bands present) may use fewer bands than stored."""
    k = sh.shape[-2]
    if degree is None:
        degree = sh_degree_for_coefficients(k)
    used = (degree + 1) ** 2
    if used > k:
        raise ValueError(f"SH degree {degree} needs {used} coefficients, the Gaussians have {k}")
    basis = sh_basis(dirs.astype(sh.dtype, copy=False), degree)
    rgb = np.einsum("...k,...kc->...c", basis, sh[..., :used, :])
    return np.maximum(rgb + 0.5, 0.0)
