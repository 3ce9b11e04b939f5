"""Adaptive density control of the canonical Gaussians (world space, as in 3DGS): clone small
ones and split large ones whose screen-space gradient is high, prune transparent ones, and reset
opacities now and then. The field's parameters are shared by all Gaussians, so only the
per-Gaussian tensors (and their Adam moments) change."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from training.fourd.config import FourDConfig
from training.fourd.model import GAUSSIAN_NAMES, SequenceModel
from training.loop.optim import replace_parameters, reset_state
from training.render.reference import ALPHA_MIN
from training.twins.quaternion import quat_to_matrix

SPLIT_SHRINK = math.log(1.6)
RESET_OPACITY = 0.01  # the highest opacity a Gaussian keeps through a reset
# Rasterizers skip alpha below ALPHA_MIN (gsplat's threshold, ours too): a Gaussian that never
# shows more gets no gradient, and a sequence of only such Gaussians cannot train on.
VISIBLE_OPACITY = ALPHA_MIN


class WorldDensity:
    def __init__(
        self, cfg: FourDConfig, num_gaussians: int, extent: float, device: torch.device, seed: int
    ) -> None:
        self.cfg = cfg
        self.extent = extent
        self.device = device
        self.generator = torch.Generator().manual_seed(seed + 7919)
        self.reset_slot = 0
        self.reset_stats(num_gaussians)

    def reset_stats(self, num: int) -> None:
        self.grad_accum = torch.zeros(num, device=self.device)
        self.count = torch.zeros(num, device=self.device)

    def accumulate(self, grads: torch.Tensor, counts: torch.Tensor) -> None:
        self.grad_accum += grads
        self.count += counts

    def step(
        self,
        model: SequenceModel,
        optimizer: torch.optim.Optimizer,
        iteration: int,
        p: float,
        peak_opacity: Callable[[], torch.Tensor],
    ) -> dict[str, int] | None:
        """Densify / prune / reset when due. ``peak_opacity()`` gives each Gaussian's highest
        opacity over the sequence (the field can make a Gaussian visible only at some times)."""
        cfg = self.cfg
        densify = cfg.densify_from <= p <= cfg.densify_until and iteration % max(1, cfg.densify_every) == 0
        reset = False
        if cfg.opacity_reset_every > 0 and p <= cfg.densify_until - 0.5 * cfg.opacity_reset_every:
            slot = int(p / cfg.opacity_reset_every)
            reset, self.reset_slot = slot > self.reset_slot, max(self.reset_slot, slot)
        if not (densify or reset):
            return None
        report = {"cloned": 0, "split": 0, "pruned": 0, "reset": int(reset)}
        if densify:
            report.update(self._grow(model, optimizer))
            peak = peak_opacity()
            report["visible"] = int((peak > VISIBLE_OPACITY).sum())
            report["pruned"] = self._prune(model, optimizer, peak)
            self.reset_stats(model.num_gaussians)
        if reset:
            self._reset_opacity(model, peak_opacity())
            reset_state(optimizer, model.params["opacity"])
        return report

    @staticmethod
    @torch.no_grad()
    def _reset_opacity(model: SequenceModel, peak: torch.Tensor) -> None:
        """Lower each Gaussian's opacity logit until its highest opacity over the sequence is about
        RESET_OPACITY. Clamping the logit itself (3DGS's reset) ignores the field's opacity offset
        and the temporal bump: a Gaussian the field hides by -10 at every time would drop to 1e-6,
        where its gradients vanish; once every Gaussian did, training never came back (a
        HyperNeRF-layout scene on a GPU, session 31)."""
        excess = torch.logit(peak.clamp(1e-6, 1 - 1e-6)) - math.log(RESET_OPACITY / (1 - RESET_OPACITY))
        model.params["opacity"].sub_(excess.clamp_min(0.0))

    def _grow(self, model: SequenceModel, optimizer: torch.optim.Optimizer) -> dict[str, int]:
        cfg = self.cfg
        avg = self.grad_accum / self.count.clamp_min(1)
        candidate = avg >= cfg.grad_threshold
        budget = max(0, cfg.max_gaussians - model.num_gaussians)
        if int(candidate.sum()) > budget:
            chosen = torch.topk(torch.where(candidate, avg, torch.full_like(avg, -1.0)), budget).indices
            candidate = torch.zeros_like(candidate)
            candidate[chosen] = True
        if not bool(candidate.any()):
            return {"cloned": 0, "split": 0}
        log_scales = model.params["log_scales"].detach()
        big = log_scales.exp().amax(-1) > cfg.split_scale * self.extent
        clone_idx = (candidate & ~big).nonzero().squeeze(-1)
        split_idx = (candidate & big).nonzero().squeeze(-1)
        noise = torch.randn(2, split_idx.numel(), 3, generator=self.generator).to(self.device)
        rot = quat_to_matrix(model.params["quats"].detach()[split_idx])
        base = model.params["means"].detach()[split_idx]
        samples = base + torch.einsum("nij,snj->sni", rot, log_scales[split_idx].exp() * noise)

        def param_fn(old: torch.Tensor, name: str) -> torch.Tensor:
            kept, extra = old.clone(), old[split_idx]
            if name == "means":
                kept[split_idx], extra = samples[0], samples[1]
            elif name == "log_scales":
                kept[split_idx] = old[split_idx] - SPLIT_SHRINK
                extra = kept[split_idx]
            return torch.cat([kept, old[clone_idx], extra])

        def state_fn(old: torch.Tensor, _name: str) -> torch.Tensor:
            kept = old.clone()
            kept[split_idx] = 0
            return torch.cat([kept, old.new_zeros((clone_idx.numel() + split_idx.numel(), *old.shape[1:]))])

        replace_parameters(optimizer, model.params, list(GAUSSIAN_NAMES), param_fn, state_fn)
        return {"cloned": int(clone_idx.numel()), "split": int(split_idx.numel())}

    def _prune(self, model: SequenceModel, optimizer: torch.optim.Optimizer, peak: torch.Tensor) -> int:
        prune = peak < self.cfg.prune_opacity
        if int((~prune).sum()) < 1 or not bool(prune.any()):
            return 0
        keep = ~prune
        replace_parameters(
            optimizer, model.params, list(GAUSSIAN_NAMES), lambda o, _n: o[keep], lambda o, _n: o[keep]
        )
        return int(prune.sum())

    def state_dict(self) -> dict[str, Any]:
        return {"grad_accum": self.grad_accum.cpu(), "count": self.count.cpu(),
                "generator": self.generator.get_state(), "reset_slot": self.reset_slot}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.grad_accum = state["grad_accum"].to(self.device)
        self.count = state["count"].to(self.device)
        self.generator.set_state(state["generator"])
        self.reset_slot = int(state["reset_slot"])
