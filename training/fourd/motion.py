"""Scene flow from matches: the velocity of each Gaussian estimated from where the Gaussians of the
neighbouring training times are, for motions too large for the photometric loss to find.

A Gaussian's linear motion (training/fourd/model.py) is only pulled by the images where its
footprint overlaps the object it belongs to at a neighbouring time; a thin arm or a falling ball
that moves more than its own width between two training times never overlaps, and the sequence
cross-fades between the two poses instead of moving. Here each Gaussian "at home" at a training
time (its temporal-opacity centre is nearest to it) is moved by the model to the previous and the
next training time and matched there to the Gaussians at home at that time (a soft nearest one in
position and colour, as in coherent point drift: a mean weighted by distance, over a radius that
halves each round, so that the first rounds move whole objects and the last ones details); the
mismatches, averaged over the Gaussian's spatial neighbours (things nearby move alike), correct
its velocity. Once an object overlaps its next pose the photometric loss takes over.
"""

from __future__ import annotations

import torch

from core.avatar.gaussians import SH_C0
from training.fourd.model import SequenceModel

ROUNDS = 4  # move-and-match rounds per estimate, each with half the radius of the one before
NEIGHBOURS = 8  # spatial neighbours a correction is averaged over


def _soft_targets(
    queries: torch.Tensor, targets: torch.Tensor, radius: float, chunk: int = 2048
) -> torch.Tensor:
    """Each query's mean of the targets weighted by a Gaussian of their distance (``radius``):
    the soft nearest target, which a wide radius pulls toward the local centre of the targets."""
    out = []
    for i in range(0, len(queries), chunk):
        d2 = torch.cdist(queries[i : i + chunk], targets).square()
        out.append(torch.softmax(-d2 / (2.0 * radius * radius), dim=1) @ targets)
    return torch.cat(out) if out else queries.new_zeros(0, targets.shape[1])


def _neighbourhoods(points: torch.Tensor, k: int, chunk: int = 4096) -> torch.Tensor:
    """(N, k') indices of each point's k nearest points (itself included)."""
    k = min(k, len(points))
    out = [torch.cdist(points[i : i + chunk], points).topk(k, largest=False).indices
           for i in range(0, len(points), chunk)]  # fmt: skip
    return torch.cat(out)


@torch.no_grad()
def matched_velocity_corrections(
    model: SequenceModel,
    times: list[float],
    match_radius: float,
    colour_weight: float,
    min_opacity: float = 0.05,
) -> torch.Tensor:
    """(G,3) change of each Gaussian's velocity that brings it onto the Gaussians at home at the
    neighbouring training times (zero where nothing was matched). ``times``: the sorted
    training times; ``match_radius``: how far (world units) the first round looks, halved each
    round after; ``colour_weight``: world distance per unit of colour difference."""
    params = model.params
    count = model.num_gaussians
    device = params["means"].device
    steps = torch.tensor(times, device=device)
    home = (params["time_centre"][:, None] - steps[None]).abs().argmin(1)  # (G,)
    colour = params["sh_dc"] * SH_C0 + 0.5
    positions = []  # (K, G, 3): every Gaussian at every training time
    visible = []  # (K, G): opaque enough at that time to be a match target
    for t in times:
        world = model.at_time(t, 0)
        positions.append(world.means)
        visible.append(world.opacities > min_opacity)
    correction = torch.zeros(count, 3, device=device)
    for k in range(len(times)):
        members = ((home == k) & visible[k]).nonzero().squeeze(-1)
        if members.numel() < 2:
            continue
        own = positions[k][members]
        neighbourhoods = _neighbourhoods(own, NEIGHBOURS)
        change = torch.zeros(len(members), 3, device=device)
        for round_ in range(ROUNDS):
            radius = match_radius * 0.5**round_
            estimates = []
            for j in (k - 1, k + 1):
                if not 0 <= j < len(times):
                    continue
                targets = ((home == j) & visible[j]).nonzero().squeeze(-1)
                if targets.numel() == 0:
                    continue
                dt = times[j] - times[k]
                moved = positions[j][members] + change * dt
                there = positions[j][targets]
                target = _soft_targets(
                    torch.cat([moved, colour_weight * colour[members]], 1),
                    torch.cat([there, colour_weight * colour[targets]], 1),
                    radius,
                )
                estimates.append((target[:, :3] - moved) / dt)
            if not estimates:
                break
            step = torch.stack(estimates).mean(0)
            change += step[neighbourhoods].mean(1)  # what a Gaussian's neighbours agree on
        correction[members] = change
    return correction
