"""The exposure/tint that makes an avatar follow a scene light."""

from __future__ import annotations

import numpy as np
import pytest

from core.avatar.relight import exposure_tint, rotation_between


def test_as_at_reference_leaves_the_colours() -> None:
    assert exposure_tint((1.0, 1.0, 1.0), 5.0, 5.0) == (1.0, 1.0, 1.0)


def test_strength_and_colour_scale_linearly() -> None:
    np.testing.assert_allclose(exposure_tint((1.0, 0.5, 0.25), 10.0, 5.0), (2.0, 1.0, 0.5))


def test_influence_blends_towards_no_change() -> None:
    np.testing.assert_allclose(exposure_tint((1.0, 1.0, 1.0), 0.0, 2.0, influence=0.5), (0.5, 0.5, 0.5))
    assert exposure_tint((0.2, 0.2, 0.2), 9.0, 1.0, influence=0.0) == (1.0, 1.0, 1.0)


def test_a_reference_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="reference strength"):
        exposure_tint((1.0, 1.0, 1.0), 1.0, 0.0)


@pytest.mark.parametrize(
    "a, b",
    [
        ((0, 0, 1), (1, 0, 0)),
        ((0.3, -0.2, 0.9), (0.1, 0.8, -0.2)),
        ((0, 1, 0), (0, -1, 0)),
        ((1, 2, 3), (1, 2, 3)),
    ],
)
def test_rotation_between_takes_a_to_b(a, b) -> None:
    r = rotation_between(np.array(a, float), np.array(b, float))
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(
        r @ (np.array(a) / np.linalg.norm(a)), np.array(b) / np.linalg.norm(b), atol=1e-12
    )


def test_turning_the_light_turns_the_normals_back() -> None:
    """The shading under a light turned by R equals the shading of normals turned by R^T."""
    from core.avatar import binding
    from core.avatar.shading import Shading

    rng = np.random.default_rng(1)
    vertices = rng.normal(size=(30, 3))
    faces = rng.integers(0, 30, (20, 3))
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    parent = rng.integers(0, len(faces), 50)
    shading = Shading(rng.normal(size=(50, 3, 3)), rng.normal(size=(50, 3)))
    frames = binding.face_frames(vertices, faces)
    turn = rotation_between(np.array([0.0, 0.0, 1.0]), np.array([0.6, 0.0, 0.8]))
    normals = frames.rotations[parent, :, 2]
    expected = np.einsum("gcd,gd->gc", shading.matrix, normals @ turn - shading.rest_normal)
    np.testing.assert_allclose(shading.dc_delta(frames, parent, turn), expected, atol=1e-12)
    np.testing.assert_allclose(shading.dc_delta(frames, parent, np.eye(3)), shading.dc_delta(frames, parent))
