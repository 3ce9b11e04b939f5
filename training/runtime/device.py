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
    """auto: gsplat on CUDA (when importable), the pure-torch pairs rasterizer on the CPU."""
    from training.render import RasterizerError
    from training.render import resolve_backend as resolve

    try:
        return resolve(name, device)
    except RasterizerError as exc:
        hint = "use --backend pairs (or reference) with --device cpu"
        if device.type == "cuda":
            hint = "use --backend gsplat (pip install gsplat==1.5.3)"
        raise NoCudaError(str(exc), hint) from None


def peak_memory_gb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**30
