"""Adam over named parameters, with the surgery adaptive density control needs.

One ``torch.optim.Adam`` holds one group per named parameter (fused on CUDA). When Gaussians are
added or removed, the parameter tensor and its Adam moments are rebuilt together; moments of new
Gaussians start at zero, as in 3DGS.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# A function that maps an old per-Gaussian tensor (first axis G) to the new one (first axis G').
Resize = Callable[[torch.Tensor, str], torch.Tensor]


def build_adam(
    params: dict[str, nn.Parameter],
    lrs: dict[str, float],
    weight_decay: dict[str, float] | None = None,
) -> torch.optim.Adam:
    weight_decay = weight_decay or {}
    groups = [
        {"params": [p], "lr": lrs[name], "name": name, "weight_decay": weight_decay.get(name, 0.0)}
        for name, p in params.items()
        if p.requires_grad
    ]
    device = next(iter(params.values())).device
    return torch.optim.Adam(groups, eps=1e-15, fused=device.type == "cuda")


def group(optimizer: torch.optim.Optimizer, name: str) -> dict | None:
    for g in optimizer.param_groups:
        if g.get("name") == name:
            return g
    return None


def set_lr(optimizer: torch.optim.Optimizer, name: str, lr: float) -> None:
    g = group(optimizer, name)
    if g is not None:
        g["lr"] = lr


def replace_parameters(
    optimizer: torch.optim.Optimizer,
    params: dict[str, nn.Parameter],
    names: list[str],
    param_fn: Resize,
    state_fn: Resize,
) -> None:
    """Rebuild ``params[name]`` for each name as param_fn(old), and its Adam moments as state_fn.

    ``params`` is updated in place (the model's ParameterDict), and the optimizer points at the
    new tensors. Scalar state (Adam's step count) is kept.
    """
    for name in names:
        old = params[name]
        new = nn.Parameter(param_fn(old.detach(), name), requires_grad=old.requires_grad)
        g = group(optimizer, name)
        if g is not None:
            state = optimizer.state.pop(old, {})
            for key, value in list(state.items()):
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape == old.shape:
                    state[key] = state_fn(value, name)
            g["params"][0] = new
            optimizer.state[new] = state
        params[name] = new


def reset_state(
    optimizer: torch.optim.Optimizer, param: nn.Parameter, rows: torch.Tensor | None = None
) -> None:
    """Zero the Adam moments of ``param`` (all of them, or the rows selected by a bool mask)."""
    state = optimizer.state.get(param)
    if not state:
        return
    for key in ("exp_avg", "exp_avg_sq"):
        value = state.get(key)
        if value is None:
            continue
        if rows is None:
            value.zero_()
        else:
            value[rows] = 0
