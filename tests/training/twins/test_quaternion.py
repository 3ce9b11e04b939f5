"""training/twins/quaternion.py against core/avatar/quaternion.py."""

from __future__ import annotations

import numpy as np
import torch

from core.avatar.quaternion import quat_to_matrix
from training.twins import quaternion as twin


def test_twin_gives_the_numpy_matrices_for_any_norm() -> None:
    q = np.random.default_rng(4).normal(size=(200, 4)) * np.linspace(0.01, 50, 200)[:, None]
    np.testing.assert_allclose(twin.quat_to_matrix(torch.as_tensor(q)).numpy(), quat_to_matrix(q), atol=1e-12)
    batched = q.reshape(10, 20, 4)
    np.testing.assert_allclose(
        twin.quat_to_matrix(torch.as_tensor(batched)).numpy(), quat_to_matrix(batched), atol=1e-12
    )
