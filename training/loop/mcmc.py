"""MCMC-style density control for face-bound Gaussians (``densify_strategy = "mcmc"``).

After "3D Gaussian Splatting as Markov Chain Monte Carlo" (Kheradmand et al. 2024), written for
the binding (offsets, rotations and scales live in the parent face's frame):

- every ``densify_every`` steps inside [densify_from, densify_until] of progress, dead Gaussians
  (opacity < ``mcmc_min_opacity``) are moved onto live ones drawn in proportion to opacity: they
  copy every per-Gaussian parameter and the parent face, and the source and its copies share its
  opacity and size so that together they draw what the source drew (``relocation``);
- then ``mcmc_growth`` times the count is added the same way, up to ``max_gaussians``;
- every step, offsets get noise the size of the Gaussian itself (in its own frame), times the
  current offset learning rate and ``mcmc_noise_lr``, gated so only near-dead Gaussians move;
- no pruning and no opacity resets: the count only grows, and dead Gaussians are reused.

A face whose Gaussians are all dead keeps its most opaque one (as pruning does in densify.py), so
no face is ever left without a Gaussian. Relocation edits the parameters in place (the count and
the tensors stay, so a CUDA-graph recording of posing stays valid); growth rebuilds them. All
randomness comes from the strategy's own generator, saved in checkpoints.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from training.config import TrainConfig
from training.loop.densify import first_per_group
from training.loop.optim import group, replace_parameters, reset_state
from training.model.face_gaussians import GaussianSet
from training.twins.quaternion import quat_to_matrix

# The noise gate sigmoid(GATE_SHARPNESS * (min_opacity - opacity)): 0.5 at the death threshold,
# 0.01 at opacity 0.05, nothing above 0.1 (the paper's k = 100 around 1 - 0.995).
GATE_SHARPNESS = 100.0
OPACITY_CEILING = 1.0 - torch.finfo(torch.float32).eps


def relocation(opacity: torch.Tensor, copies: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Opacity and scale factor for ``copies`` (N >= 1) identical Gaussians that replace one of
    opacity ``opacity`` (the paper's eq. 9), element-wise; returns (new opacity, scale factor).

    The N copies composite to the same peak opacity, 1 - (1 - o')^N = o, and along any line
    through the centre their composite profile has the same integral ("mass") as the original's
    o * exp(-t^2 / 2 sigma^2): sigma' = sigma * o / S with
    S = sum_{i=1..N} sum_{k=0..i-1} C(i-1, k) (-1)^k o'^(k+1) / sqrt(k+1),
    computed here in its collapsed form sum_{j=1..N} C(N, j) (-1)^(j+1) o'^j / sqrt(j) (the sum
    over i of C(i-1, j-1) is C(N, j)), in float64 with log-space binomials. Terms stay below about
    1 / (1 - o), so the alternating sum is exact to ~1e-9 for any N."""
    o = opacity.double()
    n = copies.to(torch.float64).clamp_min(1)
    new = -torch.expm1(torch.log1p(-o) / n)
    s = torch.zeros_like(o)
    for value in torch.unique(n).tolist():  # one small table per distinct N
        rows = n == value
        j = torch.arange(1, int(value) + 1, dtype=torch.float64, device=o.device)
        log_binom = math.lgamma(value + 1) - torch.lgamma(j + 1) - torch.lgamma(value - j + 1)
        sign = torch.where(j % 2 == 1, 1.0, -1.0).to(torch.float64)
        terms = sign * torch.exp(log_binom + j * torch.log(new[rows, None])) / torch.sqrt(j)
        s[rows] = terms.sum(-1)
    factor = o / s
    return new.to(opacity.dtype), factor.to(opacity.dtype)


class MCMCDensity:
    def __init__(self, cfg: TrainConfig, num_gaussians: int, device: torch.device, seed: int) -> None:
        self.cfg = cfg
        self.device = device
        self.seed = seed + 104_729
        # On the training device: the noise is drawn every step and must not wait for the GPU.
        self.generator = torch.Generator(device=device).manual_seed(self.seed)
        self.reset_stats(num_gaussians)

    def reset_stats(self, num_gaussians: int) -> None:
        # Not used to decide anything; kept (as in densify.py) so the distributed checks compare
        # the same per-Gaussian statistics on every rank.
        self.grad_accum = torch.zeros(num_gaussians, device=self.device)
        self.count = torch.zeros(num_gaussians, device=self.device)

    # --- called by the loop ---------------------------------------------------------------------
    def accumulate(self, grad_sum: torch.Tensor, count: torch.Tensor) -> None:
        self.grad_accum += grad_sum
        self.count += count

    def due(self, iteration: int, p: float) -> bool:
        cfg = self.cfg
        return cfg.densify_from <= p <= cfg.densify_until and iteration % max(1, cfg.densify_every) == 0

    def step(
        self, model: GaussianSet, optimizer: torch.optim.Optimizer, iteration: int, p: float
    ) -> dict[str, Any] | None:
        """Relocate and grow if due at this iteration (returns what changed, else None); then, every
        step, the position noise."""
        report = None
        if self.due(iteration, p):
            relocated = self._relocate(model, optimizer)
            added = self._grow(model, optimizer)
            self.reset_stats(model.num_gaussians)
            report = {"relocated": relocated, "added": added, "reset": False}
        self._perturb(model, optimizer)
        return report

    # --- operations -----------------------------------------------------------------------------
    def _opacity(self, model: GaussianSet) -> torch.Tensor:
        return torch.sigmoid(model.params["opacity"].detach())

    def _draw(self, weights: torch.Tensor, n: int) -> torch.Tensor:
        return torch.multinomial(weights, n, replacement=True, generator=self.generator)

    def _share(self, model: GaussianSet, sources: torch.Tensor) -> None:
        """Give each drawn source (with repeats) the opacity and size that it and its copies (one
        per draw) share, in place."""
        draws = torch.bincount(sources, minlength=model.num_gaussians)
        rows = draws.nonzero().squeeze(-1)
        opacity = self._opacity(model)[rows]
        new, factor = relocation(opacity, draws[rows] + 1)
        new = new.clamp(self.cfg.mcmc_min_opacity, OPACITY_CEILING)
        with torch.no_grad():
            model.params["opacity"][rows] = torch.logit(new)
            model.params["log_scale"][rows] += torch.log(factor)[:, None]

    def _relocate(self, model: GaussianSet, optimizer: torch.optim.Optimizer) -> int:
        opacity = self._opacity(model)
        dead = opacity < self.cfg.mcmc_min_opacity
        alive = ~dead
        if not bool(dead.any()) or not bool(alive.any()):
            return 0
        pf = model.parent_face
        alive_per_face = torch.bincount(pf[alive], minlength=model.num_faces)
        orphan = (dead & (alive_per_face[pf] == 0)).nonzero().squeeze(-1)
        if orphan.numel():  # each all-dead face keeps its most opaque Gaussian where it is
            dead[orphan[first_per_group(pf[orphan], opacity[orphan])]] = False
        targets = dead.nonzero().squeeze(-1)
        if targets.numel() == 0:
            return 0
        sources = self._draw(torch.where(alive, opacity, torch.zeros_like(opacity)), targets.numel())
        self._share(model, sources)
        with torch.no_grad():
            for name in model.per_gaussian_names():
                model.params[name][targets] = model.params[name][sources]
            pf[targets] = pf[sources]
        touched = torch.zeros_like(dead)
        touched[targets] = True
        touched[sources] = True
        for name in model.per_gaussian_names():
            reset_state(optimizer, model.params[name], touched)
        return int(targets.numel())

    def _grow(self, model: GaussianSet, optimizer: torch.optim.Optimizer) -> int:
        count = model.num_gaussians
        n = min(self.cfg.max_gaussians - count, int(self.cfg.mcmc_growth * count))
        if n <= 0:
            return 0
        opacity = self._opacity(model)
        alive = opacity >= self.cfg.mcmc_min_opacity
        weights = torch.where(alive, opacity, torch.zeros_like(opacity)) if bool(alive.any()) else opacity
        sources = self._draw(weights, n)
        self._share(model, sources)
        touched = torch.zeros(count, dtype=torch.bool, device=opacity.device)
        touched[sources] = True

        def state_fn(old: torch.Tensor, _name: str) -> torch.Tensor:
            kept = old.clone()
            kept[touched] = 0
            return torch.cat([kept, old.new_zeros((n, *old.shape[1:]))])

        replace_parameters(
            optimizer,
            model.params,
            model.per_gaussian_names(),
            lambda old, _name: torch.cat([old, old[sources]]),
            state_fn,
        )
        model.parent_face = torch.cat([model.parent_face, model.parent_face[sources]])
        return n

    def _perturb(self, model: GaussianSet, optimizer: torch.optim.Optimizer) -> None:
        """offset += gate(opacity) * lr_offset * mcmc_noise_lr * R diag(s) eps, in the face frame."""
        offset_group = group(optimizer, "offset")
        lr = float(offset_group["lr"]) if offset_group is not None else 0.0
        scaler = lr * self.cfg.mcmc_noise_lr
        if scaler <= 0:
            return
        params = model.params
        with torch.no_grad():
            gate = torch.sigmoid(GATE_SHARPNESS * (self.cfg.mcmc_min_opacity - self._opacity(model)))
            eps = torch.randn((model.num_gaussians, 3), generator=self.generator, device=self.device)
            local = params["log_scale"].exp() * eps
            rotation = quat_to_matrix(params["rotation"].detach())
            noise = torch.einsum("gij,gj->gi", rotation, local)
            params["offset"].add_(noise * (gate * scaler)[:, None])

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "grad_accum": self.grad_accum.cpu(),
            "count": self.count.cpu(),
            "generator": self.generator.get_state(),
            "generator_device": self.device.type,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.grad_accum = state["grad_accum"].to(self.device)
        self.count = state["count"].to(self.device)
        if state.get("generator_device") == self.device.type:
            self.generator.set_state(state["generator"])
        else:  # another device's generator state does not load here: a new stream, still seeded
            seed = int(torch.as_tensor(state["generator"]).long().sum()) + self.seed
            self.generator.manual_seed(seed)
