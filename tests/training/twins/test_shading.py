"""training/twins/shading.py against core/avatar/shading.py: the same colour change on any posed mesh."""

from __future__ import annotations

import numpy as np
import torch

from core.avatar.binding import face_frames
from core.avatar.shading import Shading
from tests.fixtures.avatar import bumpy_sphere
from training.twins import shading as twin


def test_twin_gives_the_numpy_dc_delta() -> None:
    rng = np.random.default_rng(3)
    vertices, faces = bumpy_sphere(rng)
    parent = rng.integers(0, len(faces), 60)
    matrix = rng.normal(0, 0.3, (60, 3, 3))
    rest = face_frames(vertices, faces).rotations[parent, :, 2]
    posed = face_frames(vertices + 0.03 * rng.normal(size=vertices.shape), faces)
    expected = Shading(matrix, rest).dc_delta(posed, parent)
    got = twin.dc_delta(
        torch.as_tensor(matrix),
        torch.as_tensor(posed.rotations),
        torch.as_tensor(parent),
        torch.as_tensor(rest),
    )
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_torch_twin_agrees_with_the_exported_form() -> None:
    """The trainer's form (dc' + S n, training/model/posing.py) and the file's (f_dc + S (n - n_rest))
    give the same colour on any posed mesh."""
    from training.model.posing import bind_world

    rng = np.random.default_rng(1)
    vertices, faces = bumpy_sphere(rng)
    g = 40
    parent = rng.integers(0, len(faces), g)
    matrix = rng.normal(0, 0.3, (g, 3, 3))
    dc_train = rng.normal(0, 0.5, (g, 1, 3))
    params = {
        "offset": torch.zeros(g, 3, dtype=torch.float64),
        "rotation": torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64).repeat(g, 1),
        "log_scale": torch.zeros(g, 3, dtype=torch.float64),
        "opacity": torch.zeros(g, dtype=torch.float64),
        "sh_dc": torch.as_tensor(dc_train),
        "sh_rest": torch.zeros(g, 0, 3, dtype=torch.float64),
        "shading": torch.as_tensor(matrix),
    }
    posed = vertices + 0.02 * rng.normal(size=vertices.shape)
    world = bind_world(
        params, torch.as_tensor(parent), torch.as_tensor(posed), torch.as_tensor(faces), None, 0
    )
    n_rest = face_frames(vertices, faces).rotations[parent, :, 2]
    f_dc = dc_train[:, 0] + np.einsum("gcd,gd->gc", matrix, n_rest)
    engine = f_dc + Shading(matrix, n_rest).dc_delta(face_frames(posed, faces), parent)
    np.testing.assert_allclose(world.sh[:, 0].numpy(), engine, atol=1e-9)
