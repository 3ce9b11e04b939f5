"""The CPU rasterizer: the reference's maths, evaluated only where each Gaussian reaches.

The reference (reference.py) composites every Gaussian of a 16 px tile over all 256 pixels of the
tile, one tile at a time. Small Gaussians, the common case, touch a few pixels of each tile they
overlap, so most of that work is wasted. Here each Gaussian is paired with the pixels of its own
box (the same box gsplat and the reference derive from the opacity), all pairs of the image are
sorted by (pixel, depth), and front-to-back compositing becomes a segmented running sum of
log(1 - alpha) in float64 (exact enough over millions of pairs). Everything is plain torch, so
autograd gives the gradients; memory is bounded by splitting the image into row bands of at most
``max_pairs`` pairs, each recomputed in the backward pass when gradients are needed.

Same rules as the reference: alpha = min(0.999, opacity exp(-power)), skipped below 1/255 or for
negative power; a pixel stops before the Gaussian that would bring its transmittance to 1e-4 or
less; ties in depth keep input order. The two agree to float rounding
(tests/training/render/test_pairs_rasterizer.py).
"""

from __future__ import annotations

import math

import torch
from torch.utils.checkpoint import checkpoint

from training.render.reference import ALPHA_MAX, ALPHA_MIN, T_MIN, box_cells

MAX_PAIRS = 4_000_000  # pairs held at once (about 0.5 GB with gradients); larger images go in bands


def _boxes(means2d: torch.Tensor, radii: torch.Tensor, width: int, height: int) -> tuple[torch.Tensor, ...]:
    """Per visible Gaussian: index and the pixel box [x0, x1) x [y0, y1) whose sample points
    (j + 0.5, i + 0.5) lie within the radius."""
    ids = torch.nonzero((radii > 0).all(-1)).squeeze(-1)
    m = means2d[ids].detach()
    r = radii[ids].to(m.dtype)
    x0 = torch.ceil(m[:, 0] - r[:, 0] - 0.5).clamp(0, width).long()
    x1 = (torch.floor(m[:, 0] + r[:, 0] - 0.5) + 1).clamp(0, width).long()
    y0 = torch.ceil(m[:, 1] - r[:, 1] - 0.5).clamp(0, height).long()
    y1 = (torch.floor(m[:, 1] + r[:, 1] - 0.5) + 1).clamp(0, height).long()
    return ids, x0, x1, y0, y1


def _band_pairs(
    ids: torch.Tensor,
    x0: torch.Tensor,
    x1: torch.Tensor,
    y0: torch.Tensor,
    y1: torch.Tensor,
    depth_rank: torch.Tensor,
    row_start: int,
    row_end: int,
    width: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixel id, Gaussian id) of every pair inside rows [row_start, row_end), sorted by pixel,
    then depth rank."""
    ranks = max(depth_rank.numel(), 1)  # the sort key's stride: ranks go up to the full count
    ya, yb = y0.clamp(min=row_start), y1.clamp(max=row_end)
    nx, ny = x1 - x0, (yb - ya).clamp(min=0)
    counts = nx * ny
    keep = counts > 0
    ids, x0, ya, nx, counts, rank = ids[keep], x0[keep], ya[keep], nx[keep], counts[keep], depth_rank[keep]
    owner, pixel = box_cells(x0, ya, nx, counts, width)
    order = torch.argsort(pixel * ranks + rank[owner])
    return pixel[order], ids[owner[order]]


def _composite_pairs(
    pixel: torch.Tensor,  # (P,) sorted by pixel, then depth
    samples: torch.Tensor,  # (P,2) the pixel's sample point
    means2d: torch.Tensor,  # (P,2) of the pair's Gaussian
    conics: torch.Tensor,  # (P,3)
    opacities: torch.Tensor,  # (P,)
    features: torch.Tensor,  # (P,D)
    num_pixels: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(num_pixels, D) weighted feature sums and (num_pixels,) final transmittance."""
    d = means2d - samples
    dx, dy = d[:, 0], d[:, 1]
    power = 0.5 * (conics[:, 0] * dx * dx + conics[:, 2] * dy * dy) + conics[:, 1] * dx * dy
    alpha = torch.clamp(opacities * torch.exp(-power), max=ALPHA_MAX)
    alpha = torch.where((power >= 0) & (alpha >= ALPHA_MIN), alpha, torch.zeros_like(alpha))
    # A pixel's pairs are one contiguous run: log transmittance before each pair is an exclusive
    # running sum of log(1 - alpha) within its run.
    starts = torch.ones_like(pixel, dtype=torch.bool)
    starts[1:] = pixel[1:] != pixel[:-1]
    run_start = torch.cummax(torch.where(starts, torch.arange(pixel.numel()), 0), 0).values

    def exclusive_run_sum(values: torch.Tensor) -> torch.Tensor:
        exclusive = torch.cumsum(values, 0) - values
        return exclusive - exclusive[run_start]

    with torch.no_grad():
        log_keep = torch.log1p(-alpha.double())
        kept = exclusive_run_sum(log_keep) + log_keep > math.log(T_MIN)  # a prefix of each run
    alpha = alpha * kept.to(alpha.dtype)
    log_keep = torch.log1p(-alpha.double())
    weight = alpha * torch.exp(exclusive_run_sum(log_keep)).to(alpha.dtype)
    acc = features.new_zeros(num_pixels, features.shape[1]).index_add(0, pixel, weight[:, None] * features)
    log_final = torch.zeros(num_pixels, dtype=torch.float64).index_add(0, pixel, log_keep)
    return acc, torch.exp(log_final).to(features.dtype)


def rasterize_to_pixels_pairs(
    means2d: torch.Tensor,  # (N,2)
    conics: torch.Tensor,  # (N,3)
    opacities: torch.Tensor,  # (N,)
    features: torch.Tensor,  # (N,D)
    depths: torch.Tensor,  # (N,)
    radii: torch.Tensor,  # (N,2)
    width: int,
    height: int,
    *,
    background: torch.Tensor | None = None,
    max_pairs: int = MAX_PAIRS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One camera, as reference.rasterize_to_pixels: (H,W,D) features over ``background`` (D,)
    and (H,W,1) alpha. CPU tensors."""
    num_pixels = width * height
    ids, x0, x1, y0, y1 = _boxes(means2d, radii, width, height)
    depth_rank = torch.empty_like(ids)
    depth_rank[torch.sort(depths[ids].detach(), stable=True).indices] = torch.arange(ids.numel())
    # Rows per band so that no band holds more than max_pairs pairs (estimated from box sizes).
    total = int(((x1 - x0) * (y1 - y0)).clamp(min=0).sum())
    bands = max(1, math.ceil(total / max_pairs))
    rows = max(1, math.ceil(height / bands))
    need_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (means2d, conics, opacities, features)
    )
    acc = features.new_zeros(num_pixels, features.shape[1])
    trans = features.new_ones(num_pixels)
    for row_start in range(0, height, rows):
        row_end = min(row_start + rows, height)
        pixel, gauss = _band_pairs(ids, x0, x1, y0, y1, depth_rank, row_start, row_end, width)
        if pixel.numel() == 0:
            continue
        samples = torch.stack([pixel % width, pixel // width], -1).to(means2d.dtype) + 0.5
        args = (pixel, samples, means2d[gauss], conics[gauss], opacities[gauss], features[gauss], num_pixels)
        if need_grad and bands > 1:
            band_acc, band_trans = checkpoint(_composite_pairs, *args, use_reentrant=False)
        else:
            band_acc, band_trans = _composite_pairs(*args)
        # Bands cover disjoint rows and leave the others at zero colour, transmittance one.
        acc = acc + band_acc
        trans = trans * band_trans
    color = acc
    if background is not None:
        color = color + trans[:, None] * background.to(features.dtype)
    return color.reshape(height, width, -1), (1.0 - trans).reshape(height, width, 1)
