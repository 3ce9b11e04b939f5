"""The trainer's use of the rasterizer front (training/render): world Gaussians + cameras ->
images, and the screen-space gradients that drive densification."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from training.model.posing import WorldGaussians


class Renderer:
    """How an avatar's Gaussians become pixels: the rasterizer backend, the background, gsplat's
    antialiased mode, and the std of the 3D smoothing filter (world units; 0 for exported avatars,
    which carry it baked in)."""

    def __init__(
        self,
        backend: str,
        background: Sequence[float],
        device: torch.device,
        antialiased: bool = False,
        smoothing: float = 0.0,
    ) -> None:
        self.backend = backend
        self.background = torch.tensor(list(background), dtype=torch.float32, device=device)
        self.antialiased = antialiased
        self.smoothing = smoothing

    def render(
        self, world: WorldGaussians, viewmats: torch.Tensor, ks: torch.Tensor, width: int, height: int
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """(C,H,W,3) images composited over the background, (C,H,W,1) alpha, and the info dict."""
        from training.render import rasterize

        rendered = rasterize(
            world.means,
            world.quats,
            world.scales,
            world.opacities,
            world.sh,
            viewmats,
            ks,
            width,
            height,
            sh_degree=world.sh_degree,
            background=self.background,
            backend=self.backend,
            antialiased=self.antialiased,
            with_depth=False,
        )
        return rendered.colors, rendered.alphas, rendered.meta

    @staticmethod
    def before_backward(info: dict[str, Any]) -> None:
        means2d = info.get("means2d")
        if isinstance(means2d, torch.Tensor) and means2d.requires_grad:
            means2d.retain_grad()


def screen_space_grads(
    info: dict[str, Any], world: WorldGaussians, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-Gaussian sum over cameras of the projected-mean gradient norm (in normalised device
    units, as 3DGS/gsplat measure it) and the number of cameras that saw each Gaussian."""
    num = world.means.shape[0]
    means2d = info.get("means2d")
    if not isinstance(means2d, torch.Tensor) or means2d.grad is None:
        zeros = torch.zeros(num, device=world.means.device)
        return zeros, zeros
    grad = means2d.grad.reshape(-1, num, 2)  # (C,G,2) in pixels (gsplat) or NDC (graphdeco)
    cameras = grad.shape[0]
    if info.get("means2d_units") == "ndc":
        scale = grad.new_tensor([float(cameras), float(cameras)])
    else:
        scale = grad.new_tensor([width / 2.0 * cameras, height / 2.0 * cameras])
    norms = (grad * scale).norm(dim=-1)  # (C,G)
    radii = info.get("radii")
    if isinstance(radii, torch.Tensor):
        visible = radii.reshape(cameras, num, -1).amax(-1) > 0
    else:
        visible = norms > 0
    return (norms * visible).sum(0), visible.sum(0).to(norms.dtype)


def render_avatar(
    poser,
    gaussians,
    num_dyn_expression: int,
    renderer: Renderer,
    inputs,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    width: int,
    height: int,
    sh_degree: int,
):
    """One frame end to end: rig inputs -> posed mesh -> bound Gaussians (+ dynamics) -> images.

    Returns (world Gaussians, (C,H,W,3) images, (C,H,W,1) alpha, rasterizer info)."""
    from training.model.posing import dynamic_features, world_gaussians

    vertices, pose_features = poser.mesh(inputs)
    features = None
    if gaussians.has_dynamics:
        features = dynamic_features(inputs.expression, pose_features, num_dyn_expression)
    world = world_gaussians(gaussians, vertices, poser.faces, features, sh_degree, renderer.smoothing)
    image, alpha, info = renderer.render(world, viewmats, ks, width, height)
    return world, image, alpha, info
