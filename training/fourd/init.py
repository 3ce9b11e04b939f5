"""Canonical Gaussians to start from, without SfM points: the union of the visual hulls of the
training times (a point is kept when it falls on the foreground mask of every camera of one time
that sees it, at least two of them), coloured by the images it projects to, each remembering the
time it was carved at (the centre of its temporal opacity, training/fourd/model.py). Masks come
from the images' alpha (D-NeRF) or the dataset's mask files. Without masks, the capture's own
structure-from-motion points where it ships them (HyperNeRF), else points filling the box every
camera looks at; either is visible at every time."""

from __future__ import annotations

import logging
import math

import torch

from core.avatar.gaussians import SH_C0
from training.data.scene import SplitData

LOG = logging.getLogger("training")
MAX_TIMES = 64  # hulls of at most this many times (spread evenly): every time of most captures
CANDIDATES_PER_TIME = 20_000


def look_at_box(data: SplitData) -> tuple[torch.Tensor, float]:
    """Centre (the point nearest to every camera's optical axis) and half-width of the region the
    cameras frame."""
    c2w = torch.linalg.inv(data.viewmats.double())
    origins, axes = c2w[:, :3, 3], c2w[:, :3, 2]  # OpenCV: +z looks forward
    eye = torch.eye(3, dtype=torch.float64, device=origins.device)
    proj = eye - axes[:, :, None] * axes[:, None, :]  # (N,3,3) projections off each axis
    centre = torch.linalg.solve(proj.sum(0), (proj @ origins[:, :, None]).sum(0))[:, 0]
    distance = (origins - centre).norm(dim=1).median()
    half_view = float(data.sizes[0][0]) / 2.0 / data.ks[:, 0, 0].double().median()
    return centre.float(), float(distance * half_view)


def _project(
    points: torch.Tensor, viewmat: torch.Tensor, k: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    cam = points @ viewmat[:3, :3].T + viewmat[:3, 3]
    z = cam[:, 2]
    uv = cam[:, :2] / z.clamp_min(1e-6)[:, None] * torch.stack([k[0, 0], k[1, 1]]) + k[:2, 2]
    return uv, z


@torch.no_grad()
def hull_points(
    data: SplitData,
    count: int,
    generator: torch.Generator,
    time_of: dict[int, float],
    sfm: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(count,3) points, (count,3) rgb in [0,1], the (2,3) box they were drawn in and (count,)
    the normalised time each was carved at (None without masks). ``sfm``: the dataset's
    structure-from-motion points, the start when there are no masks."""  # fmt: skip
    assert data.cache is not None
    centre, half = look_at_box(data)
    device = data.viewmats.device
    lo, hi = centre - half, centre + half
    times = sorted(data.by_timestep)
    if len(times) > MAX_TIMES:
        times = [times[round(i * (len(times) - 1) / (MAX_TIMES - 1))] for i in range(MAX_TIMES)]
    kept_points, kept_colours, kept_times = [], [], []
    for t in times:
        views = data.by_timestep[t]
        images, masks = data.cache.batch(views)
        if masks is None:
            break
        points = lo + (hi - lo) * torch.rand(CANDIDATES_PER_TIME, 3, generator=generator).to(device)
        inside = torch.ones(len(points), dtype=torch.bool, device=device)
        seen = torch.zeros(len(points), device=device)
        colour = torch.zeros(len(points), 3, device=device)
        for j, view in enumerate(views):
            uv, z = _project(points, data.viewmats[view], data.ks[view])
            w, h = data.sizes[view]
            px, py = uv[:, 0].round().long(), uv[:, 1].round().long()
            visible = (z > 0) & (px >= 0) & (px < w) & (py >= 0) & (py < h)
            pxc, pyc = px.clamp(0, w - 1), py.clamp(0, h - 1)
            fg = masks[j][pyc, pxc] > 0.5
            inside &= ~visible | fg
            seen += visible.float()
            colour += images[j][pyc, pxc] * visible[:, None]
        keep = inside & (seen >= 2)
        kept_points.append(points[keep])
        kept_colours.append(colour[keep] / seen[keep, None])
        kept_times.append(torch.full((int(keep.sum()),), time_of[t], device=device))
    points = torch.cat(kept_points) if kept_points else torch.empty(0, 3, device=device)
    colours = torch.cat(kept_colours) if kept_colours else torch.empty(0, 3, device=device)
    carved: torch.Tensor | None = torch.cat(kept_times) if kept_times else None
    if len(points) < 16 and sfm is not None and len(sfm) >= 16:
        return (*sfm_start(data, sfm, count, generator), None)
    if len(points) < 16:
        LOG.info("no foreground masks to carve with: starting from points filling the view box")
        points = lo + (hi - lo) * torch.rand(count, 3, generator=generator).to(device)
        colours = torch.full_like(points, 0.5)
        carved = None
    pick = torch.randint(len(points), (count,), generator=generator).to(device)
    jitter = (torch.rand(count, 3, generator=generator).to(device) - 0.5) * (2 * half / 100)
    LOG.info("initial Gaussians from %d carved points of %d times", len(points), len(times))
    times_out = None if carved is None else carved[pick]
    return points[pick] + jitter, colours[pick], torch.stack([lo, hi]), times_out


@torch.no_grad()
def sfm_start(
    data: SplitData, sfm: torch.Tensor, count: int, generator: torch.Generator, views: int = 8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Points drawn from the structure-from-motion points inside their 1st-99th percentile box
    (widened by a tenth: far outliers would stretch the field's planes over empty space), each
    coloured by the mean of the training images (``views`` spread over the capture) it falls in."""
    assert data.cache is not None
    device = data.viewmats.device
    points = sfm.to(device=device, dtype=torch.float32)
    low, high = torch.quantile(points, 0.01, dim=0), torch.quantile(points, 0.99, dim=0)
    margin = (high - low) * 0.1
    lo, hi = low - margin, high + margin
    points = points[((points >= lo) & (points <= hi)).all(1)]
    colour = torch.zeros_like(points)
    seen = torch.zeros(len(points), device=device)
    picks = sorted({round(i * (len(data) - 1) / max(1, views - 1)) for i in range(min(views, len(data)))})
    for view in picks:
        images, _ = data.cache.batch([view])
        uv, z = _project(points, data.viewmats[view], data.ks[view])
        w, h = data.sizes[view]
        px, py = uv[:, 0].round().long(), uv[:, 1].round().long()
        visible = (z > 0) & (px >= 0) & (px < w) & (py >= 0) & (py < h)
        colour += images[0][py.clamp(0, h - 1), px.clamp(0, w - 1)] * visible[:, None]
        seen += visible.float()
    colour = torch.where(seen[:, None] > 0, colour / seen.clamp_min(1)[:, None], torch.full_like(colour, 0.5))
    pick = torch.randint(len(points), (count,), generator=generator).to(device)
    jitter = (torch.rand(count, 3, generator=generator).to(device) - 0.5) * ((hi - lo).max() / 200)
    LOG.info("initial Gaussians from %d structure-from-motion points", len(points))
    return points[pick] + jitter, colour[pick], torch.stack([lo, hi])


def neighbour_spacing(points: torch.Tensor, k: int = 3, chunk: int = 1024) -> torch.Tensor:
    """(N,) mean distance of each point to its k nearest neighbours."""
    out = []
    for start in range(0, len(points), chunk):
        d = torch.cdist(points[start : start + chunk], points)
        out.append(d.topk(k + 1, largest=False).values[:, 1:].mean(1))
    return torch.cat(out)


def initial_gaussians(
    points: torch.Tensor,
    colours: torch.Tensor,
    sh_degree: int,
    times: torch.Tensor | None = None,
    time_width: float = 1.0,
) -> dict[str, torch.Tensor]:
    """3DGS parameters; ``times`` (G,) centre each Gaussian's temporal opacity (its carving time)
    and ``time_width`` is its initial width (normalised time). Without times: visible always."""
    count = len(points)
    device = points.device
    spacing = neighbour_spacing(points.float()).clamp_min(1e-7)
    quats = torch.zeros(count, 4, device=points.device)
    quats[:, 0] = 1.0
    return {
        "means": points.float(),
        "quats": quats,
        "log_scales": torch.log(spacing)[:, None].repeat(1, 3),
        "opacity": torch.full((count,), math.log(0.1 / 0.9), device=points.device),
        "sh_dc": ((colours.float() - 0.5) / SH_C0),
        "sh_rest": torch.zeros(count, (sh_degree + 1) ** 2 - 1, 3, device=points.device),
        "time_centre": torch.full((count,), 0.5, device=device) if times is None else times.float(),
        "time_log_width": torch.full(
            (count,), math.log(10.0 if times is None else time_width), device=device
        ),
        "velocity": torch.zeros(count, 3, device=device),
        "spin": torch.zeros(count, 4, device=device),
    }
