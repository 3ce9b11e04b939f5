"""Compaction: fewer Gaussians for a smaller avatar file, at a small cost in quality.

Each Gaussian's importance is its total blending weight over a set of training views (the
gradient of the summed image with respect to a per-Gaussian colour multiplier of one: for every
pixel the weight alpha * T it gets in the composite). The most important ones are kept, every
face that had Gaussians keeps its most important one, and a short fine-tune without density
control lets the survivors take over what the pruned ones drew.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from training.loop.densify import first_per_group
from training.loop.optim import replace_parameters

LOG = logging.getLogger("training")

ZIP_OVERHEAD_BYTES = 16_384


def bytes_per_gaussian(sh_degree: int, dynamics_rank: int, shading: bool = False) -> int:
    """Bytes one Gaussian takes in the avatar file (float32 PLY with normals, binding, dynamics,
    normal shading: matrix and rest normal)."""
    ply = 3 + 3 + 3 * (sh_degree + 1) ** 2 + 1 + 3 + 4
    binding = 1 + 3 + 4 + 3
    return 4 * (ply + binding + 14 * dynamics_rank + (12 if shading else 0))


def gaussians_for_size(
    max_bytes: float, sh_degree: int, dynamics_rank: int, fixed_bytes: int, shading: bool = False
) -> int:
    per_gaussian = bytes_per_gaussian(sh_degree, dynamics_rank, shading)
    return max(1, int((max_bytes - fixed_bytes - ZIP_OVERHEAD_BYTES) // per_gaussian))


def importance(trainer: Any, views: int = 64) -> torch.Tensor:
    """(G,) total blending weight of each Gaussian over up to ``views`` training images."""
    from training.model.posing import dynamic_features, world_gaussians
    from training.render import rasterize

    gs = trainer.gaussians
    data = trainer.train
    score = torch.zeros(gs.num_gaussians, device=trainer.device)
    picks = np.unique(np.linspace(0, len(data) - 1, min(views, len(data))).round().astype(int))
    ranks = trainer.world  # several ranks: each scores its share of the views, then they add up
    picks = picks[ranks.rank :: ranks.size]
    black = torch.zeros(3, device=trainer.device)
    for i in picks.tolist():
        with torch.no_grad():
            inputs = trainer.tracking.inputs(data.timesteps[i])
            vertices, pose_features = trainer.poser.mesh(inputs)
            features = None
            if gs.has_dynamics:
                features = dynamic_features(inputs.expression, pose_features, trainer.num_dyn_expression)
            world = world_gaussians(gs, vertices, trainer.poser.faces, features, 0)
        weight = torch.ones(gs.num_gaussians, device=trainer.device, requires_grad=True)
        w, h = data.sizes[i]
        rendered = rasterize(
            world.means, world.quats, world.scales, world.opacities, weight[:, None].expand(-1, 3),
            data.viewmats[i], data.ks[i], w, h, background=black, backend=trainer.backend, with_depth=False,
        )  # fmt: skip
        rendered.colors.sum().backward()
        assert weight.grad is not None
        score += weight.grad / 3.0
    return ranks.all_reduce_sum(score)


def compact(trainer: Any, max_gaussians: int, steps: int, views: int = 64) -> dict[str, int]:
    """Keep the ``max_gaussians`` most important Gaussians (at least one per used face) and
    fine-tune for ``steps`` steps without density control."""
    gs = trainer.gaussians
    before = gs.num_gaussians
    if before <= max_gaussians:
        return {"before": before, "after": before, "steps": 0}
    score = importance(trainer, views)
    rescue = first_per_group(gs.parent_face, score)  # each used face's best Gaussian
    keep = torch.zeros(before, dtype=torch.bool, device=score.device)
    keep[rescue] = True
    room = max_gaussians - int(keep.sum())
    if room > 0:
        rest = torch.where(keep, torch.full_like(score, -1.0), score)
        keep[torch.topk(rest, room).indices] = True
    replace_parameters(
        trainer.optimizer,
        gs.params,
        gs.per_gaussian_names(),
        lambda old, _n: old[keep],
        lambda old, _n: old[keep],
    )
    gs.parent_face = gs.parent_face[keep]
    trainer.strategy.reset_stats(gs.num_gaussians)
    LOG.info("compaction: %d -> %d Gaussians, fine-tuning %d steps", before, gs.num_gaussians, steps)
    for _ in range(steps):
        trainer.step(density=False)
    return {"before": before, "after": gs.num_gaussians, "steps": steps}
