"""Spherical harmonics for view-dependent colour (core/avatar/sh.py)."""

from __future__ import annotations

import numpy as np
import pytest

from core.avatar.gaussians import SH_C0
from core.avatar.sh import sh_basis, sh_to_rgb, view_directions


def test_basis_is_orthonormal_on_the_sphere() -> None:
    """Gauss-Legendre in cos(theta) x uniform phi integrates these polynomials exactly."""
    nodes, weights = np.polynomial.legendre.leggauss(12)
    phi = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    cos_t, ph = np.meshgrid(nodes, phi, indexing="ij")
    sin_t = np.sqrt(1 - cos_t**2)
    dirs = np.stack([sin_t * np.cos(ph), sin_t * np.sin(ph), cos_t], axis=-1).reshape(-1, 3)
    w = (weights[:, None] * np.full(phi.shape, 2 * np.pi / len(phi))[None, :]).reshape(-1)
    basis = sh_basis(dirs, 3)
    gram = np.einsum("n,ni,nj->ij", w, basis, basis)
    np.testing.assert_allclose(gram, np.eye(16), atol=1e-12)


def test_known_values() -> None:
    up = np.array([[0.0, 0.0, 1.0]])
    b = sh_basis(up, 3)[0]
    assert b[0] == pytest.approx(SH_C0)
    assert b[2] == pytest.approx(np.sqrt(3 / (4 * np.pi)))  # Y_1^0 along +z
    assert b[6] == pytest.approx(np.sqrt(5 / (4 * np.pi)))  # Y_2^0 at the pole
    assert b[12] == pytest.approx(np.sqrt(7 / (4 * np.pi)))  # Y_3^0 at the pole
    assert np.allclose(np.delete(b, [0, 2, 6, 12]), 0)
    # The -x direction: first-band x-term is -C1 * x.
    assert sh_basis(np.array([[-1.0, 0, 0]]), 1)[0, 3] == pytest.approx(np.sqrt(3 / (4 * np.pi)))


def test_rgb_from_coefficients() -> None:
    rng = np.random.default_rng(0)
    sh = rng.normal(size=(50, 16, 3))
    dirs = view_directions(rng.normal(size=(50, 3)), np.zeros(3))
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0)
    rgb = sh_to_rgb(sh, dirs)
    np.testing.assert_allclose(rgb, np.maximum(np.einsum("nk,nkc->nc", sh_basis(dirs, 3), sh) + 0.5, 0))
    # Degree 0 ignores the direction; a lower degree ignores the higher bands.
    np.testing.assert_allclose(sh_to_rgb(sh, dirs, degree=0), np.maximum(SH_C0 * sh[:, 0] + 0.5, 0))
    np.testing.assert_allclose(sh_to_rgb(sh, dirs, degree=1), sh_to_rgb(sh[:, :4], dirs))
    assert (rgb >= 0).all() and (rgb == 0).any()
    assert sh_to_rgb(sh.astype(np.float32), dirs).dtype == np.float32
    with pytest.raises(ValueError, match="needs 16 coefficients"):
        sh_to_rgb(sh[:, :9], dirs, degree=3)
