"""training/twins/sh.py against core/avatar/sh.py: basis and colour for every degree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.avatar import sh
from training.twins import sh as twin


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_twin_gives_the_numpy_basis_and_colour(degree: int) -> None:
    rng = np.random.default_rng(degree)
    dirs = rng.normal(size=(300, 3))
    unit = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    coeffs = rng.normal(0, 0.4, (300, 16, 3))
    np.testing.assert_allclose(
        twin.sh_basis(torch.as_tensor(unit), degree).numpy(), sh.sh_basis(unit, degree), atol=1e-12
    )
    np.testing.assert_allclose(
        twin.sh_to_rgb(torch.as_tensor(coeffs), torch.as_tensor(dirs), degree).numpy(),
        sh.sh_to_rgb(coeffs, unit, degree),
        atol=1e-12,
    )
