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

from dataclasses import dataclass

import torch

from core.avatar.gaussians import SH_C0
from training.fourd.model import SequenceModel

ROUNDS = 4  # move-and-match rounds per estimate, each with half the radius of the one before
NEIGHBOURS = 32  # spatial neighbours a correction is averaged over


def _shrink(steps: torch.Tensor, gap: torch.Tensor, threshold: float) -> torch.Tensor:
    """Each step shortened by ``threshold`` times the targets' sampling gap (none below it): a
    displacement smaller than the gap between neighbouring targets is what matching two
    samplings of a still surface gives (a repeating texture, a random draw of points) and not a
    motion; divided by a short time it would set a still Gaussian flying."""
    if threshold <= 0:
        return steps
    length = steps.norm(dim=1, keepdim=True)
    keep = (length - threshold * gap).clamp_min(0.0) / length.clamp_min(1e-12)
    return steps * keep


def _sampling_gap(points: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """The median distance from a point to its nearest other point: how densely a set samples
    its surfaces."""
    if len(points) < 2:
        return points.new_zeros(())
    out = [torch.cdist(points[i : i + chunk], points).topk(2, largest=False).values[:, 1]
           for i in range(0, len(points), chunk)]  # fmt: skip
    return torch.cat(out).median()


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


@dataclass
class MotionEstimate:
    velocity_change: torch.Tensor  # (G,3) added to each Gaussian's velocity
    angular_velocity: torch.Tensor  # (G,3) of the Gaussian's neighbourhood (radians per unit time)
    matched: torch.Tensor  # (G,) bool: the Gaussians estimated (the others keep their motion)


def _local_linear_fit(
    points: torch.Tensor, values: torch.Tensor, neighbourhoods: torch.Tensor
) -> torch.Tensor:
    """(N,4,3) linear field ``a + B (x - x_i)`` around each point fitted by least squares to the
    values over its neighbourhood (row 0: ``a``, rows 1-3: ``B`` transposed): an average that
    keeps a rotation's or a swing's gradient."""
    offsets = points[neighbourhoods] - points[:, None]  # (N,k,3)
    design = torch.cat([torch.ones_like(offsets[..., :1]), offsets], dim=-1)  # (N,k,4)
    normal = design.transpose(1, 2) @ design
    spread = offsets.square().sum((1, 2)) / max(1, neighbourhoods.shape[1])  # (N,) mean squared offset
    ridge = torch.diag(design.new_tensor([0.0, 1.0, 1.0, 1.0]))  # a flat or thin neighbourhood: B -> 0
    normal = normal + 1e-2 * spread[:, None, None].clamp_min(1e-12) * ridge * neighbourhoods.shape[1]
    return torch.linalg.solve(normal, design.transpose(1, 2) @ values[neighbourhoods])


def _curl_half(fit: torch.Tensor) -> torch.Tensor:
    """(N,3) angular velocity of the linear velocity fields (half the curl of ``B``)."""
    grad = fit[:, 1:]  # grad[:, j, i] = d v_i / d x_j
    return 0.5 * torch.stack(
        [grad[:, 1, 2] - grad[:, 2, 1], grad[:, 2, 0] - grad[:, 0, 2], grad[:, 0, 1] - grad[:, 1, 0]], 1
    )


def spin_of(quats: torch.Tensor, angular_velocity: torch.Tensor) -> torch.Tensor:
    """(G,4) quaternion rate ``0.5 (0, w) q`` that turns each (unnormalised) quaternion at the
    angular velocity ``w`` (world frame, wxyz order)."""
    w, v = quats[:, :1], quats[:, 1:]
    real = -(angular_velocity * v).sum(1, keepdim=True)
    return 0.5 * torch.cat([real, w * angular_velocity + torch.cross(angular_velocity, v, dim=1)], 1)


def _neighbourhoods(points: torch.Tensor, k: int, chunk: int = 4096) -> torch.Tensor:
    """(N, k') indices of each point's k nearest points (itself included)."""
    k = min(k, len(points))
    out = [torch.cdist(points[i : i + chunk], points).topk(k, largest=False).indices
           for i in range(0, len(points), chunk)]  # fmt: skip
    return torch.cat(out)


@torch.no_grad()
def matched_motion(
    model: SequenceModel,
    times: list[float],
    match_radius: float,
    colour_weight: float,
    min_opacity: float = 0.05,
    still_threshold: float = 0.0,
) -> MotionEstimate:
    """The change of each Gaussian's velocity that brings it onto the Gaussians at home at the
    neighbouring training times, and the angular velocity its neighbourhood then turns at.
    ``times``: the sorted training times; ``match_radius``: how far (world units) the first round
    looks, halved each round after; ``colour_weight``: world distance per unit of colour
    difference; ``still_threshold``: displacements up to this many sampling gaps of the targets
    are taken for no motion (``_shrink``; 0: every displacement counts)."""
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
    angular = torch.zeros(count, 3, device=device)
    matched = torch.zeros(count, dtype=torch.bool, device=device)
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
                queries = torch.cat([moved, colour_weight * colour[members]], 1)
                target = _soft_targets(
                    queries, torch.cat([there, colour_weight * colour[targets]], 1), radius
                )
                # The same mean over the moved Gaussians themselves: near an object's edge both
                # lean inwards alike, so their difference is the motion without that bias.
                source = _soft_targets(queries, queries, radius)
                gap = _sampling_gap(there) if still_threshold > 0 else there.new_zeros(())
                estimates.append(_shrink(target[:, :3] - source[:, :3], gap, still_threshold) / dt)
            if not estimates:
                break
            step = torch.stack(estimates).mean(0)
            change += _local_linear_fit(own, step, neighbourhoods)[:, 0]  # what the neighbours agree on
        before, after = max(0, k - 1), min(len(times) - 1, k + 1)
        if after == before:
            continue
        current = (positions[after][members] - positions[before][members]) / (times[after] - times[before])
        angular[members] = _curl_half(_local_linear_fit(own, current + change, neighbourhoods))
        correction[members] = change
        matched[members] = True
    return MotionEstimate(correction, angular, matched)
