"""PNG output of rendered images (previews, eval and render commands)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(H,W,3) float in [0,1] -> (H,W,3) uint8."""
    return (image.detach().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()


def side_by_side(*images: torch.Tensor) -> torch.Tensor:
    return torch.cat([img.detach().clamp(0, 1) for img in images], dim=1)


def enlarge(image: torch.Tensor, factor: float) -> torch.Tensor:
    """(H, W, C) image repeated by the whole number of pixels that ``factor`` asks for (at least 1)."""
    times = max(1, math.ceil(factor - 1e-6))
    if times == 1:
        return image
    return image.repeat_interleave(times, dim=0).repeat_interleave(times, dim=1)


def save_png(path: Path, image: torch.Tensor) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(to_uint8(image)).save(tmp, format="PNG")
    tmp.replace(path)
    return path
