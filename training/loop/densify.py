"""Adaptive density control for face-bound Gaussians, as a strategy object the loop calls.

The loop calls ``accumulate`` after every backward pass with each Gaussian's screen-space
gradient norms and visibility counts, then ``step`` once per iteration; ``step`` decides on its own
schedule when to clone, split, prune and reset opacities (in the spirit of gsplat's
``strategy/default.py``, written for the binding):

- clone / split happen in the face frame, so new Gaussians keep their parent face;
- pruning never removes the last Gaussian of a face;
- the count never exceeds ``max_gaussians`` (the candidates with the largest gradients win);
- all randomness comes from the strategy's own generator, saved in checkpoints.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from training.config import TrainConfig
from training.loop.optim import replace_parameters, reset_state
from training.model.face_gaussians import GaussianSet, logit
from training.twins.quaternion import quat_to_matrix

SPLIT_SHRINK = math.log(1.6)  # each half of a split is 1.6 times smaller, as in 3DGS


def first_per_group(keys: torch.Tensor, priority: torch.Tensor) -> torch.Tensor:
    """Indices (into keys) of the highest-priority element of each distinct key."""
    order = torch.sort(priority, descending=True, stable=True).indices
    order = order[torch.sort(keys[order], stable=True).indices]
    sorted_keys = keys[order]
    first = torch.ones_like(sorted_keys, dtype=torch.bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    return order[first]


class DensityControl:
    def __init__(self, cfg: TrainConfig, num_gaussians: int, device: torch.device, seed: int) -> None:
        self.cfg = cfg
        self.device = device
        self.generator = torch.Generator().manual_seed(seed + 7919)
        self.num_resets = 0
        self.reset_slot = 0
        self.reset_stats(num_gaussians)

    def reset_stats(self, num_gaussians: int) -> None:
        self.grad_accum = torch.zeros(num_gaussians, device=self.device)
        self.count = torch.zeros(num_gaussians, device=self.device)

    # --- called by the loop ---------------------------------------------------------------------
    def accumulate(self, grad_sum: torch.Tensor, count: torch.Tensor) -> None:
        """grad_sum (G,): screen-space gradient norms (normalised device units) summed over the
        cameras of a step; count (G,): how many of those cameras saw each Gaussian."""
        self.grad_accum += grad_sum
        self.count += count

    def due(self, iteration: int, p: float) -> tuple[bool, bool]:
        cfg = self.cfg
        densify = cfg.densify_from <= p <= cfg.densify_until and iteration % max(1, cfg.densify_every) == 0
        reset = False
        if cfg.opacity_reset_every > 0 and p <= cfg.densify_until - 0.5 * cfg.opacity_reset_every:
            # Once each time progress enters a new slot of opacity_reset_every (not at the start).
            slot = int(p / cfg.opacity_reset_every)
            reset = slot > self.reset_slot
            self.reset_slot = max(self.reset_slot, slot)
        return densify, reset

    def step(
        self, model: GaussianSet, optimizer: torch.optim.Optimizer, iteration: int, p: float
    ) -> dict[str, int] | None:
        """Densify/prune/reset if due at this iteration; returns what changed (or None)."""
        densify, reset = self.due(iteration, p)
        if not (densify or reset):
            return None
        report = {"cloned": 0, "split": 0, "pruned": 0, "reset": 0}
        if densify:
            report.update(self._grow(model, optimizer))
            report["pruned"] = self._prune(model, optimizer)
            self.reset_stats(model.num_gaussians)
        if reset:
            self._reset_opacity(model, optimizer)
            report["reset"] = 1
        return report

    # --- operations -----------------------------------------------------------------------------
    def _grow(self, model: GaussianSet, optimizer: torch.optim.Optimizer) -> dict[str, int]:
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
        log_scale = model.params["log_scale"].detach()
        big = log_scale.exp().amax(-1) > cfg.split_scale_threshold
        clone_idx = (candidate & ~big).nonzero().squeeze(-1)
        split_idx = (candidate & big).nonzero().squeeze(-1)

        # Two samples from each split Gaussian, in the face frame (offsets are face units).
        n_split = split_idx.numel()
        noise = torch.randn(2, n_split, 3, generator=self.generator).to(self.device)
        rot = quat_to_matrix(model.params["rotation"].detach()[split_idx])
        sigma = log_scale[split_idx].exp()
        base = model.params["offset"].detach()[split_idx]
        samples = base + torch.einsum("nij,snj->sni", rot, sigma * noise)

        def param_fn(old: torch.Tensor, name: str) -> torch.Tensor:
            kept = old.clone()
            extra_split = old[split_idx]
            if name == "offset":
                kept[split_idx] = samples[0]
                extra_split = samples[1]
            elif name == "log_scale":
                kept[split_idx] = old[split_idx] - SPLIT_SHRINK
                extra_split = kept[split_idx]
            return torch.cat([kept, old[clone_idx], extra_split])

        def state_fn(old: torch.Tensor, name: str) -> torch.Tensor:
            kept = old.clone()
            kept[split_idx] = 0
            extra = old.new_zeros((clone_idx.numel() + n_split, *old.shape[1:]))
            return torch.cat([kept, extra])

        replace_parameters(optimizer, model.params, model.per_gaussian_names(), param_fn, state_fn)
        pf = model.parent_face
        model.parent_face = torch.cat([pf, pf[clone_idx], pf[split_idx]])
        return {"cloned": int(clone_idx.numel()), "split": n_split}

    def _prune(self, model: GaussianSet, optimizer: torch.optim.Optimizer) -> int:
        cfg = self.cfg
        opacity = torch.sigmoid(model.params["opacity"].detach())
        prune = opacity < cfg.prune_opacity
        if self.num_resets > 0:
            prune |= model.params["log_scale"].detach().exp().amax(-1) > cfg.prune_scale
        if not bool(prune.any()):
            return 0
        keep = ~prune
        pf = model.parent_face
        kept_per_face = torch.bincount(pf[keep], minlength=model.num_faces)
        orphan = prune & (kept_per_face[pf] == 0)
        if bool(orphan.any()):
            idx = orphan.nonzero().squeeze(-1)
            keep[idx[first_per_group(pf[idx], opacity[idx])]] = True
        n_pruned = int((~keep).sum())
        if n_pruned == 0:
            return 0
        replace_parameters(
            optimizer,
            model.params,
            model.per_gaussian_names(),
            lambda old, _name: old[keep],
            lambda old, _name: old[keep],
        )
        model.parent_face = pf[keep]
        return n_pruned

    def _reset_opacity(self, model: GaussianSet, optimizer: torch.optim.Optimizer) -> None:
        param = model.params["opacity"]
        with torch.no_grad():
            param.clamp_(max=logit(self.cfg.opacity_reset_value))
        reset_state(optimizer, param)
        self.num_resets += 1

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "grad_accum": self.grad_accum.cpu(),
            "count": self.count.cpu(),
            "generator": self.generator.get_state(),
            "num_resets": self.num_resets,
            "reset_slot": self.reset_slot,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.grad_accum = state["grad_accum"].to(self.device)
        self.count = state["count"].to(self.device)
        self.generator.set_state(state["generator"])
        self.num_resets = int(state["num_resets"])
        self.reset_slot = int(state["reset_slot"])
