"""Image metrics of evaluations: PSNR and SSIM always, LPIPS only when it can run offline.

LPIPS needs the ``lpips`` package and torchvision's AlexNet weights in the torch hub cache; the
package would download the weights at run time, which must not happen here, so without them LPIPS
is left out (and the log says why).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import torch

from training.loop.losses import psnr, ssim

ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"


def lpips_available() -> tuple[bool, str]:
    if importlib.util.find_spec("lpips") is None:
        return False, "the lpips package is not installed"
    weights = Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_WEIGHTS
    if not weights.is_file():
        return (
            False,
            f"its AlexNet weights are not in {weights.parent} (they are never downloaded at run time)",
        )
    return True, ""


@functools.cache
def _lpips_net(device: str) -> Any:
    import lpips

    return lpips.LPIPS(net="alex", verbose=False).to(device).eval()


def lpips_score(image: torch.Tensor, ref: torch.Tensor) -> float:
    net = _lpips_net(str(image.device))
    to_nchw = lambda x: x.permute(2, 0, 1)[None] * 2 - 1  # noqa: E731
    return float(net(to_nchw(image), to_nchw(ref)).item())


@torch.no_grad()
def score_images(
    renders: list[torch.Tensor], truths: list[torch.Tensor], names: list[str] | None = None
) -> dict[str, Any]:
    """Per-image and mean PSNR / SSIM (and LPIPS when available) of (H,W,3) images in [0,1]."""
    with_lpips = lpips_available()[0]
    per_image: list[dict[str, Any]] = []
    for i, (img, ref) in enumerate(zip(renders, truths, strict=True)):
        entry: dict[str, Any] = {"psnr": float(psnr(img, ref)), "ssim": float(ssim(img, ref))}
        if with_lpips:
            entry["lpips"] = lpips_score(img, ref)
        if names is not None:
            entry["name"] = names[i]
        per_image.append(entry)
    out: dict[str, Any] = {"count": len(per_image)}
    for key in ("psnr", "ssim", "lpips"):
        values = [e[key] for e in per_image if key in e]
        if values:
            out[key] = sum(values) / len(values)
    out["images"] = per_image
    return out
