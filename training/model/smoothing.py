"""The 3D smoothing filter (in the spirit of Mip-Splatting): every Gaussian is convolved with an
isotropic Gaussian of standard deviation ``sigma`` in world units, the finest detail the training
cameras can resolve, so no Gaussian becomes thinner than a pixel of any training view. Thinner
ones fit the training images with needles that alias into streaks in every other view.

Convolving a Gaussian with covariance S by sigma^2 I gives S + sigma^2 I; along the Gaussian's own
axes that is s_i^2 + sigma^2. Its peak opacity is scaled by sqrt(det S / det(S + sigma^2 I)) so
its integral - what it adds to the image - is unchanged.
"""

from __future__ import annotations

import torch


def smooth_3d(
    scales: torch.Tensor, opacities: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scales (...,G,3) and opacities (...,G) of the Gaussians after the filter of std ``sigma``."""
    if sigma <= 0:
        return scales, opacities
    s2 = scales.square()
    widened = s2 + sigma * sigma
    keep = torch.sqrt((s2 / widened).prod(dim=-1))
    return torch.sqrt(widened), opacities * keep


def finest_footprint(viewmats: torch.Tensor, ks: torch.Tensor, centre: torch.Tensor) -> float:
    """World size of one pixel at ``centre`` (3,) in the camera that sees it finest: the least
    depth / focal length over the cameras (viewmats (C,4,4) world-to-camera, ks (C,3,3) pixels)
    that have it in front."""
    cam = viewmats[:, :3, :3] @ centre.to(viewmats) + viewmats[:, :3, 3]
    depth = cam[:, 2]
    focal = 0.5 * (ks[:, 0, 0] + ks[:, 1, 1])
    ahead = depth > 0
    if not bool(ahead.any()):
        raise ValueError("no training camera has the subject in front of it")
    return float((depth[ahead] / focal[ahead]).min())
