"""The density-control strategies the loop can run, chosen by ``densify_strategy``.

Both take the loop's calls in the same form: ``accumulate`` after each backward pass, ``step``
after each optimizer step (returns a report with at least ``"reset"``, or None), ``reset_stats``
after any other change of the Gaussian count, ``state_dict`` / ``load_state_dict`` for checkpoints,
and a per-Gaussian ``grad_accum`` that the distributed checks compare across ranks.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from training.config import TrainConfig
from training.loop.densify import DensityControl
from training.loop.mcmc import MCMCDensity
from training.model.face_gaussians import GaussianSet

STRATEGIES = {"adaptive": DensityControl, "mcmc": MCMCDensity}


class DensityStrategy(Protocol):
    grad_accum: torch.Tensor

    def reset_stats(self, num_gaussians: int) -> None: ...

    def accumulate(self, grad_sum: torch.Tensor, count: torch.Tensor) -> None: ...

    def step(
        self, model: GaussianSet, optimizer: torch.optim.Optimizer, iteration: int, p: float
    ) -> dict[str, Any] | None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def make_strategy(cfg: TrainConfig, num_gaussians: int, device: torch.device, seed: int) -> DensityStrategy:
    """The strategy ``cfg.densify_strategy`` names (ValueError for an unknown name)."""
    kind = STRATEGIES.get(cfg.densify_strategy)
    if kind is None:
        raise ValueError(
            f"densify_strategy {cfg.densify_strategy!r}: expected one of {', '.join(STRATEGIES)}"
        )
    return kind(cfg, num_gaussians, device, seed)
