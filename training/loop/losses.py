"""Photometric losses and image metrics (torch): L1, SSIM / D-SSIM, PSNR, mask loss.

Images are float tensors in [0, 1], shaped (..., H, W, 3) (channels last, as the rasterizers
return them). SSIM uses an 11x11 Gaussian window (sigma 1.5) with zero padding ("same" size), the
common 3DGS definition, so training and evaluation report the same number.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention

_SSIM_C1 = 0.01**2
_SSIM_C2 = 0.03**2
_WINDOW_CACHE: dict[tuple[str, torch.dtype], torch.Tensor] = {}


def _gauss_1d(device: torch.device, dtype: torch.dtype, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    key = (str(device), dtype)
    win = _WINDOW_CACHE.get(key)
    if win is None:
        x = torch.arange(size, dtype=torch.float64) - size // 2
        g = torch.exp(-(x**2) / (2 * sigma**2))
        win = (g / g.sum()).to(device=device, dtype=dtype)
        _WINDOW_CACHE[key] = win
    return win


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), zero padded, same size. Every map is blurred as
    its own single-channel image (a grouped convolution runs group by group on cuDNN)."""
    b, c, h, w = x.shape
    g = _gauss_1d(x.device, x.dtype)
    pad = g.numel() // 2
    y = x.reshape(b * c, 1, h, w)
    y = F.conv2d(y, g.view(1, 1, 1, -1), padding=(0, pad))
    y = F.conv2d(y, g.view(1, 1, -1, 1), padding=(pad, 0))
    return y.reshape(b, c, h, w)


def ssim_map(img: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM of (..., H, W, C) images, returned as (B, C, H, W)."""
    x = img.reshape(-1, *img.shape[-3:]).permute(0, 3, 1, 2)
    y = ref.reshape(-1, *ref.shape[-3:]).permute(0, 3, 1, 2)
    c = x.shape[1]
    # One blur pass over the five maps SSIM needs.
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1))
    mu_x, mu_y, e_xx, e_yy, e_xy = stats.split(c, dim=1)
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + _SSIM_C1) * (2 * cov + _SSIM_C2)
    den = (mu_x * mu_x + mu_y * mu_y + _SSIM_C1) * (var_x + var_y + _SSIM_C2)
    return num / den


def ssim(img: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image: (..., H, W, C) -> (...,)."""
    lead = img.shape[:-3]
    return ssim_map(img, ref).reshape(*lead, -1).mean(-1) if lead else ssim_map(img, ref).mean()


def l1(img: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return (img - ref).abs().mean()


def psnr(img: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of images in [0, 1]: (..., H, W, C) -> (...,)."""
    mse = ((img.clamp(0, 1) - ref) ** 2).flatten(-3).mean(-1)
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


def photometric_loss(img: torch.Tensor, ref: torch.Tensor, lambda_dssim: float) -> tuple[torch.Tensor, dict]:
    """(1 - lambda) * L1 + lambda * (1 - SSIM); returns the loss and its parts (detached)."""
    loss_l1 = l1(img, ref)
    loss_ssim = 1.0 - ssim_map(img, ref).mean()
    total = (1.0 - lambda_dssim) * loss_l1 + lambda_dssim * loss_ssim
    return total, {"l1": loss_l1.detach(), "dssim": loss_ssim.detach()}


def mask_loss(alpha: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 between rendered opacity (..., H, W, 1) and the foreground mask (..., H, W) in [0, 1]."""
    return (alpha.squeeze(-1) - mask).abs().mean()


def hinge_mean(values: torch.Tensor, threshold: float) -> torch.Tensor:
    """Mean of max(0, values - threshold): penalises only what exceeds the threshold."""
    return torch.relu(values - threshold).mean() if values.numel() else values.sum()
