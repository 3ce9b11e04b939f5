"""Warm the rasterizer up before training's clock starts.

gsplat's PyPI wheel compiles its CUDA kernels on first use (a minute or more on a fresh machine,
then loaded from torch's extension cache in seconds). Inside the first training step that time
counted against ``--time-budget``: a 60 s run trained one iteration. ``warm_up`` renders a few
Gaussians forward and backward through the trainer's own Renderer (the same ``rasterize()`` path,
backend, SH degree and options) so the kernels are built and loaded before the first step. On the
CPU it costs milliseconds.
"""

from __future__ import annotations

import time

import torch

from training.model.posing import WorldGaussians
from training.render.renderer import Renderer

COMPILING_TEXT = "compiling CUDA kernels (once)"
COMPILED_BACKENDS = frozenset({"gsplat", "inria"})  # JIT-built or CUDA extensions
WARM_UP_COUNT = 64
WARM_UP_SIZE = 32  # pixels


def may_compile(backend: str) -> bool:
    """Whether the first use of this backend may build or load CUDA kernels (worth telling)."""
    return backend in COMPILED_BACKENDS


def warm_up(renderer: Renderer, device: torch.device, sh_degree: int) -> float:
    """Render WARM_UP_COUNT Gaussians in front of a camera, forward and backward; returns seconds."""
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    n = WARM_UP_COUNT
    means = (torch.rand(n, 3, generator=gen) - 0.5) * 0.2 + torch.tensor([0.0, 0.0, 1.0])
    quats = torch.randn(n, 4, generator=gen)
    scales = torch.full((n, 3), 0.02)
    opacities = torch.full((n,), 0.5)
    sh = torch.zeros(n, (sh_degree + 1) ** 2, 3)
    leaves = [t.to(device).requires_grad_(True) for t in (means, quats, scales, opacities, sh)]
    world = WorldGaussians(*leaves, sh_degree, None)
    focal, centre = float(WARM_UP_SIZE), (WARM_UP_SIZE - 1) / 2
    viewmats = torch.eye(4, device=device)[None]
    ks = torch.tensor([[[focal, 0.0, centre], [0.0, focal, centre], [0.0, 0.0, 1.0]]], device=device)
    image, alpha, info = renderer.render(world, viewmats, ks, WARM_UP_SIZE, WARM_UP_SIZE)
    renderer.before_backward(info)
    (image.sum() + alpha.sum()).backward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start
