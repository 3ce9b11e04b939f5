"""The exposure/tint that makes an avatar follow a scene light."""

from __future__ import annotations

import numpy as np
import pytest

from core.avatar.relight import exposure_tint


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
