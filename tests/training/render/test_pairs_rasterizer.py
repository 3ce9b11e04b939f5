"""The CPU pairs rasterizer equals the tile reference: images, alpha, depth and gradients."""

from __future__ import annotations

import pytest
import torch

from training.render import rasterize, resolve_backend
from training.render.pairs import rasterize_to_pixels_pairs
from training.render.reference import project, rasterize_to_pixels

W, H = 40, 32


def scene(seed: int, count: int, spread: float, size: float) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(count, 3, generator=gen, dtype=torch.float64) * spread,
        torch.randn(count, 4, generator=gen, dtype=torch.float64),
        torch.rand(count, 3, generator=gen, dtype=torch.float64) * size + 0.002,
        torch.rand(count, generator=gen, dtype=torch.float64),
        torch.rand(count, 4, 3, generator=gen, dtype=torch.float64) - 0.3,
    ]


def cameras() -> tuple[torch.Tensor, torch.Tensor]:
    viewmats = torch.eye(4, dtype=torch.float64).repeat(2, 1, 1)
    viewmats[:, 2, 3] = 1.0
    viewmats[1, 0, 3] = 0.07  # a second camera off to the side
    ks = torch.tensor([[50.0, 0, 19.3], [0, 52.0, 15.6], [0, 0, 1]], dtype=torch.float64).repeat(2, 1, 1)
    return viewmats, ks


@pytest.mark.parametrize(
    "seed,count,spread,size,antialiased",
    [
        (0, 600, 0.08, 0.01, False),  # many small Gaussians: the usual case
        (2, 500, 0.15, 0.03, False),  # large overlapping ones: pixels reach the 1e-4 transmittance stop
        (3, 300, 0.1, 0.02, True),
    ],
)
def test_pairs_equals_reference_with_gradients(seed, count, spread, size, antialiased) -> None:
    viewmats, ks = cameras()
    results = {}
    for backend in ("reference", "pairs"):
        leaves = [t.clone().requires_grad_() for t in scene(seed, count, spread, size)]
        colors, alphas, meta = rasterize(
            *leaves, viewmats, ks, W, H, sh_degree=1, background=torch.tensor([1.0, 0.9, 0.8]),
            backend=backend, antialiased=antialiased,
        )  # fmt: skip
        assert meta["backend"] == backend
        loss = (colors - 0.4).square().sum() + alphas.sum() + 0.1 * meta["depth"].sum()
        loss.backward()
        results[backend] = (
            colors.detach(),
            alphas.detach(),
            meta["depth"].detach(),
            [t.grad for t in leaves],
        )
    ref, pairs = results["reference"], results["pairs"]
    assert ref[1].max() > 0.9  # the scene covers pixels fully somewhere
    for a, b in zip(ref[:3], pairs[:3], strict=True):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)
    for grad_ref, grad_pairs in zip(ref[3], pairs[3], strict=True):
        assert torch.linalg.vector_norm(grad_ref) > 0
        torch.testing.assert_close(grad_pairs, grad_ref, rtol=1e-8, atol=1e-10)


def test_bands_bound_memory_and_change_nothing() -> None:
    viewmats, ks = cameras()
    means, quats, scales, opacities, colors = scene(5, 400, 0.1, 0.02)
    proj = project(means, quats, scales, opacities, viewmats[:1], ks[:1], W, H)
    args = (proj["means2d"][0], proj["conics"][0], proj["opacities"][0], colors[:, 0, :],
            proj["depths"][0], proj["radii"][0], W, H)  # fmt: skip
    whole = rasterize_to_pixels_pairs(*args, background=torch.ones(3, dtype=torch.float64))
    banded = rasterize_to_pixels_pairs(*args, background=torch.ones(3, dtype=torch.float64), max_pairs=500)
    tiles = rasterize_to_pixels(*args, background=torch.ones(3, dtype=torch.float64))
    for a, b, c in zip(whole, banded, tiles, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(c, a, rtol=1e-9, atol=1e-9)


def test_nothing_visible_gives_the_background() -> None:
    viewmats, ks = cameras()
    means, quats, scales, opacities, colors = scene(1, 50, 0.05, 0.01)
    means = means + torch.tensor([0.0, 0.0, -5.0], dtype=torch.float64)  # all behind the cameras
    image, alpha, _ = rasterize(
        means, quats, scales, opacities, colors, viewmats, ks, W, H, sh_degree=1,
        background=torch.tensor([0.2, 0.3, 0.4], dtype=torch.float64), backend="pairs",
    )  # fmt: skip
    assert torch.all(alpha == 0)
    torch.testing.assert_close(image, torch.tensor([0.2, 0.3, 0.4], dtype=torch.float64).expand_as(image))


def test_auto_picks_pairs_on_the_cpu() -> None:
    assert resolve_backend("auto", torch.device("cpu")) == "pairs"
    assert resolve_backend("reference", torch.device("cpu")) == "reference"
