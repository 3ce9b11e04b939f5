"""Device and rasterizer backend choice, with the errors the user can act on."""

from __future__ import annotations

import torch

from training.errors import NoCudaError, TrainerError


def resolve_device(name: str) -> torch.device:
    if name == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda or "no CUDA"
            raise NoCudaError(
                f"--device cuda was asked for, but this torch ({torch.__version__}, built with {built}) "
                "sees no CUDA device",
                "use --device cpu for small runs, or a Python whose torch has CUDA",
            )
        return torch.device("cuda", torch.cuda.current_device())
    if name == "cpu":
        return torch.device("cpu")
    raise TrainerError(f"unknown device {name!r}")


def resolve_backend(name: str, device: torch.device) -> str:
    """auto: gsplat on CUDA, the pure-torch reference rasterizer on the CPU."""
    if name == "auto":
        return "gsplat" if device.type == "cuda" else "reference"
    if name in ("gsplat", "inria") and device.type != "cuda":
        raise NoCudaError(f"the {name} rasterizer needs CUDA", "use --backend reference with --device cpu")
    return name


def peak_memory_gb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**30
