"""Gaussians under an affine map (numpy, bpy-free): what exporting a splat object to world (or
Y-up) coordinates does to means, covariances and view-dependent colour.

Means map directly. Covariances map as A S A^T; for a similarity (rotation times uniform scale)
that is a quaternion product and a log-scale shift, otherwise the covariance is re-decomposed.
SH coefficients rotate band by band with the rotation part of A, so each Gaussian shows the same
colour from the same (transformed) direction.
"""

from __future__ import annotations

import numpy as np

from ..rotations import matrix_to_quaternion
from .gaussians import GaussianSet
from .quaternion import quat_multiply, quat_normalize, quat_to_matrix
from .sh import sh_basis

# Fixed, well-spread unit directions for fitting the SH band rotations (any >= 7 generic ones do).
_FIT_DIRECTIONS = np.random.default_rng(20261123).normal(size=(64, 3))
_FIT_DIRECTIONS /= np.linalg.norm(_FIT_DIRECTIONS, axis=1, keepdims=True)

Y_UP_FROM_Z_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1.0]])
"""Blender (Z-up) -> model (Y-up): a Blender point (x, y, z) is the model point (x, z, -y)."""


def polar_rotation(linear: np.ndarray) -> np.ndarray:
    """The rotation of the polar decomposition of a 3x3 matrix with positive determinant."""
    u, _s, vt = np.linalg.svd(np.asarray(linear, dtype=np.float64))
    r = u @ vt
    if np.linalg.det(r) < 0:
        raise ValueError("the transform mirrors space; Gaussians cannot be mirrored by a rotation")
    return r


def sh_band_rotations(rotation: np.ndarray, degree: int) -> list[np.ndarray]:
    """Per band l = 1..degree the (2l+1)x(2l+1) matrix D_l with Y_l(R^T d) = D_l Y_l(d).

    Coefficients c_l (2l+1, 3) of a function f(d) become D_l^T c_l for f(R^T d), the function
    seen after rotating space by R. Fitted by least squares on fixed directions: exact, as every
    band is closed under rotation.
    """
    r = np.asarray(rotation, dtype=np.float64)
    dirs = _FIT_DIRECTIONS
    y = sh_basis(dirs, degree)
    y_rot = sh_basis(dirs @ r, degree)  # rows: R^T d
    out = []
    for band in range(1, degree + 1):
        lo, hi = band * band, (band + 1) * (band + 1)
        # y_rot[:, lo:hi] = y[:, lo:hi] @ D^T
        d_t, *_ = np.linalg.lstsq(y[:, lo:hi], y_rot[:, lo:hi], rcond=None)
        out.append(d_t.T)
    return out


def rotate_sh(sh: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """SH coefficients (N, K, 3) of colours seen in a frame rotated by ``rotation``."""
    k = sh.shape[1]
    degree = round(float(np.sqrt(k))) - 1
    out = np.array(sh, dtype=np.float64, copy=True)
    for band, d in enumerate(sh_band_rotations(rotation, degree), start=1):
        lo, hi = band * band, (band + 1) * (band + 1)
        out[:, lo:hi, :] = np.einsum("ji,njc->nic", d, sh[:, lo:hi, :].astype(np.float64))
    return out.astype(sh.dtype)


def transform_gaussians(gaussians: GaussianSet, matrix: np.ndarray) -> GaussianSet:
    """The Gaussians mapped by a 4x4 affine matrix (no mirroring)."""
    m = np.asarray(matrix, dtype=np.float64)
    linear, shift = m[:3, :3], m[:3, 3]
    rotation = polar_rotation(linear)
    scales = np.linalg.norm(linear, axis=0)
    means = gaussians.means.astype(np.float64) @ linear.T + shift
    dtype = gaussians.means.dtype
    similarity = np.allclose(linear, rotation * scales[0], rtol=1e-6, atol=1e-9)
    if similarity:
        q_r = matrix_to_quaternion(rotation)
        quats = quat_multiply(np.broadcast_to(q_r, gaussians.quats.shape), quat_normalize(gaussians.quats))
        log_scales = gaussians.log_scales.astype(np.float64) + np.log(scales[0])
    else:
        q = quat_normalize(gaussians.quats.astype(np.float64))
        rs = quat_to_matrix(q) * np.exp(gaussians.log_scales.astype(np.float64))[:, None, :]
        mapped = np.einsum("ij,njk->nik", linear, rs)
        cov = mapped @ mapped.transpose(0, 2, 1)
        values, vectors = np.linalg.eigh(cov)
        flip = np.linalg.det(vectors) < 0
        vectors[flip, :, 0] *= -1.0
        quats = matrix_to_quaternion(vectors)
        log_scales = 0.5 * np.log(np.maximum(values, 1e-30))
    return GaussianSet(
        means=means.astype(dtype),
        quats=np.asarray(quats, dtype=dtype),
        log_scales=np.asarray(log_scales, dtype=dtype),
        opacity_logits=gaussians.opacity_logits.copy(),
        sh=rotate_sh(gaussians.sh, rotation),
    )
