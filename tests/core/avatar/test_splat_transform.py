"""Exporting Gaussians to another frame (core/avatar/transform.py): the same means,
covariances and view-dependent colours, whatever rotation, scale or shear the object carries."""

from __future__ import annotations

import numpy as np
import pytest

from core.avatar.gaussians import GaussianSet
from core.avatar.quaternion import quat_to_matrix
from core.avatar.sh import sh_to_rgb, view_directions
from core.avatar.transform import Y_UP_FROM_Z_UP, rotate_sh, transform_gaussians
from core.rotations import axis_angle_to_quaternion, quaternion_to_matrix


def _gaussians(n: int = 50, degree: int = 3, seed: int = 0) -> GaussianSet:
    rng = np.random.default_rng(seed)
    return GaussianSet(
        means=rng.normal(size=(n, 3)),
        quats=rng.normal(size=(n, 4)),
        log_scales=rng.normal(-2, 0.5, size=(n, 3)),
        opacity_logits=rng.normal(size=n),
        sh=rng.normal(0, 0.4, size=(n, (degree + 1) ** 2, 3)),
    )


def _covariances(g: GaussianSet) -> np.ndarray:
    rs = (
        quat_to_matrix(g.quats / np.linalg.norm(g.quats, axis=1, keepdims=True))
        * np.exp(g.log_scales)[:, None, :]
    )
    return rs @ rs.transpose(0, 2, 1)


def _matrix(kind: str) -> np.ndarray:
    rotation = quaternion_to_matrix(axis_angle_to_quaternion(np.array([0.3, -1.1, 0.7])))
    m = np.eye(4)
    m[:3, 3] = (0.4, -2.0, 1.5)
    if kind == "rigid":
        m[:3, :3] = rotation
    elif kind == "similarity":
        m[:3, :3] = 2.5 * rotation
    else:  # rotation, non-uniform scale and shear
        m[:3, :3] = rotation @ np.array([[1.5, 0.3, 0.0], [0.0, 0.7, 0.2], [0.0, 0.0, 1.2]])
    return m


@pytest.mark.parametrize("kind", ["rigid", "similarity", "affine"])
def test_means_covariances_and_view_dependent_colour_follow_the_transform(kind: str) -> None:
    g = _gaussians()
    m = _matrix(kind)
    out = transform_gaussians(g, m)
    np.testing.assert_allclose(out.means, g.means @ m[:3, :3].T + m[:3, 3], atol=1e-12)
    expected_cov = m[:3, :3] @ _covariances(g) @ m[:3, :3].T
    np.testing.assert_allclose(_covariances(out), expected_cov, atol=1e-10)
    np.testing.assert_array_equal(out.opacity_logits, g.opacity_logits)
    # Colour seen from a camera: object space (camera mapped back) vs the transformed frame.
    camera_world = np.array([3.0, -4.0, 2.0])
    camera_object = np.linalg.solve(m, np.append(camera_world, 1.0))[:3]
    if kind == "affine":
        # Directions are only preserved up to the shear; compare through the rotation part only.
        linear = m[:3, :3]
        u, _, vt = np.linalg.svd(linear)
        rotation = u @ vt
        dirs_obj = view_directions(g.means, camera_object)
        dirs_world = dirs_obj @ rotation.T
        np.testing.assert_allclose(sh_to_rgb(out.sh, dirs_world), sh_to_rgb(g.sh, dirs_obj), atol=1e-10)
    else:
        before = sh_to_rgb(g.sh, view_directions(g.means, camera_object))
        after = sh_to_rgb(out.sh, view_directions(out.means, camera_world))
        np.testing.assert_allclose(after, before, atol=1e-10)


def test_y_up_conversion_is_the_inverse_of_the_rig_turn() -> None:
    # Blender places a model point (x, y, z) at (x, -z, y); exporting Y-up undoes it.
    model_to_blender = np.array([[1.0, 0, 0, 0], [0, 0, -1.0, 0], [0, 1.0, 0, 0], [0, 0, 0, 1.0]])
    np.testing.assert_allclose(Y_UP_FROM_Z_UP @ model_to_blender, np.eye(4), atol=1e-15)


def test_identity_rotation_keeps_sh_and_inverse_rotation_restores_it() -> None:
    g = _gaussians(degree=3)
    rotation = quaternion_to_matrix(axis_angle_to_quaternion(np.array([1.0, 2.0, -0.5])))
    np.testing.assert_allclose(rotate_sh(g.sh, np.eye(3)), g.sh, atol=1e-12)
    np.testing.assert_allclose(rotate_sh(rotate_sh(g.sh, rotation), rotation.T), g.sh, atol=1e-10)


def test_mirroring_is_refused() -> None:
    m = np.diag([-1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="mirror"):
        transform_gaussians(_gaussians(), m)
