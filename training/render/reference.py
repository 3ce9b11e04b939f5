"""The pure-torch reference rasterizer: ground truth on the CPU for tests, CI and tiny runs.

It follows gsplat 1.5.3's ``rasterization()`` (classic and antialiased modes, pinhole cameras) step
by step, so the two agree to float rounding:

- projection: camera-space mean and covariance (R diag(s)^2 R^T seen through the view rotation),
  EWA Jacobian of the pinhole with the mean clamped to 1.3x the field of view, plus ``eps2d``
  (0.3 px) on the 2D covariance's diagonal; culled when depth < near or > far, when the 2D
  covariance is not positive, when opacity < 1/255, or when its box misses the image;
- box radius per axis ceil(extend * sqrt(cov_ii)), extend = min(3.33, sqrt(2 ln(255 opacity)));
- tiles of 16 px: a Gaussian is evaluated on the pixels of the tiles its box overlaps, in
  increasing depth (ties in input order);
- per pixel: alpha = min(0.999, opacity * exp(-power)), skipped below 1/255; compositing stops
  before the Gaussian that would bring the transmittance to 1e-4 or less; colour over background.

Differentiable by autograd. Memory stays bounded: each tile is composited in blocks of Gaussians
and, when gradients are needed, checkpointed (recomputed in the backward pass), so a 256x256
image of 20k Gaussians needs tens of MB, not GB.

Cameras: ``viewmats`` world-to-camera (OpenCV axes), ``Ks`` with pixel centres at integer
coordinates (docs/DESIGN.md); internally 0.5 is added to cx, cy and pixel (i, j) is sampled at
(j + 0.5, i + 0.5), as gsplat does, so ``means2d`` in ``meta`` are gsplat's pixel coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

from training.twins.sh import sh_to_rgb

ALPHA_MIN = 1.0 / 255.0  # gsplat ALPHA_THRESHOLD
ALPHA_MAX = 0.999  # gsplat 1.5.3 clamps alpha at 0.999 (graphdeco's rasterizer: 0.99)
T_MIN = 1e-4  # compositing stops before transmittance would reach this
EXTEND_MAX = 3.33  # box half-size in standard deviations


def quat_scale_to_covariance(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """(N,4) w,x,y,z (normalised here) and (N,3) linear scales -> (N,3,3) covariances."""
    w, x, y, z = (quats / torch.linalg.vector_norm(quats, dim=-1, keepdim=True)).unbind(-1)
    rot = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(-1, 3, 3)  # fmt: skip
    m = rot * scales[:, None, :]
    return m @ m.transpose(-1, -2)


def project(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,  # noqa: N803 (the K of camera maths)
    width: int,
    height: int,
    *,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    antialiased: bool = False,
) -> dict[str, torch.Tensor]:
    """EWA projection for C cameras: means2d (C,N,2) in gsplat pixel coordinates, conics (C,N,3)
    (upper triangle of the inverse 2D covariance), depths (C,N), radii (C,N,2) int32 (0 = culled),
    opacities (C,N) (times the antialiasing compensation when ``antialiased``)."""
    rot, trans = viewmats[:, :3, :3], viewmats[:, :3, 3]
    means_c = torch.einsum("cij,nj->cni", rot, means) + trans[:, None, :]  # (C,N,3)
    cov_c = rot[:, None] @ quat_scale_to_covariance(quats, scales)[None] @ rot.transpose(-1, -2)[:, None]
    fx, fy = Ks[:, 0, 0, None], Ks[:, 1, 1, None]
    cx, cy = Ks[:, 0, 2, None] + 0.5, Ks[:, 1, 2, None] + 0.5
    tx, ty, depth = means_c.unbind(-1)
    in_range = (depth >= near_plane) & (depth <= far_plane)
    # Culled depths (0 included) never reach the image; a stand-in of 1 keeps their gradients finite.
    tz = torch.where(in_range, depth, torch.ones_like(depth))
    # The Jacobian is taken at the mean clamped to 1.3x the field of view (as gsplat and 3DGS do).
    lim_x_pos = (width - cx) / fx + 0.3 * (0.5 * width / fx)
    lim_x_neg = cx / fx + 0.3 * (0.5 * width / fx)
    lim_y_pos = (height - cy) / fy + 0.3 * (0.5 * height / fy)
    lim_y_neg = cy / fy + 0.3 * (0.5 * height / fy)
    cx_t = tz * torch.minimum(torch.maximum(tx / tz, -lim_x_neg), lim_x_pos)
    cy_t = tz * torch.minimum(torch.maximum(ty / tz, -lim_y_neg), lim_y_pos)
    zero = torch.zeros_like(tz)
    jac = torch.stack(
        [fx / tz, zero, -fx * cx_t / (tz * tz), zero, fy / tz, -fy * cy_t / (tz * tz)], dim=-1
    ).reshape(tz.shape + (2, 3))
    cov2d = jac @ cov_c @ jac.transpose(-1, -2)
    a, b, d = cov2d[..., 0, 0], 0.5 * (cov2d[..., 0, 1] + cov2d[..., 1, 0]), cov2d[..., 1, 1]
    det_raw = a * d - b * b
    a, d = a + eps2d, d + eps2d
    det = a * d - b * b
    valid = (det > 0) & in_range
    safe_det = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack([d / safe_det, -b / safe_det, a / safe_det], dim=-1)
    means2d = torch.stack([fx * tx / tz + cx, fy * ty / tz + cy], dim=-1)
    opac = opacities[None, :].expand(tz.shape)
    if antialiased:
        opac = opac * torch.sqrt(torch.clamp(det_raw / safe_det, min=1e-30))  # finite gradient at 0
    with torch.no_grad():
        valid = valid & (opac >= ALPHA_MIN)
        extend = torch.sqrt(2.0 * torch.log(opac.clamp_min(ALPHA_MIN) / ALPHA_MIN)).clamp(max=EXTEND_MAX)
        rx = torch.ceil(extend * torch.sqrt(a.clamp_min(0)))
        ry = torch.ceil(extend * torch.sqrt(d.clamp_min(0)))
        mx, my = means2d[..., 0], means2d[..., 1]
        valid = valid & (mx + rx > 0) & (mx - rx < width) & (my + ry > 0) & (my - ry < height)
        radii = torch.stack([rx, ry], dim=-1).masked_fill(~valid[..., None], 0).to(torch.int32)
    return {"means2d": means2d, "conics": conics, "depths": depth, "radii": radii, "opacities": opac}


def box_cells(
    x0: torch.Tensor, y0: torch.Tensor, nx: torch.Tensor, counts: torch.Tensor, stride: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every cell of B boxes on a grid (box b: columns x0[b] .. x0[b] + nx[b], counts[b] cells in
    row-major order from row y0[b]): (box index, cell id y * stride + x), boxes in order."""
    owner = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)
    local = torch.arange(owner.numel(), device=counts.device) - (torch.cumsum(counts, 0) - counts)[owner]
    cell = (y0[owner] + local // nx[owner]) * stride + x0[owner] + local % nx[owner]
    return owner, cell


def _tile_intersections(
    means2d: torch.Tensor,
    radii: torch.Tensor,
    depths: torch.Tensor,
    tile_size: int,
    tiles_x: int,
    tiles_y: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(tile id, Gaussian id) of every tile each Gaussian's box overlaps, sorted by tile, then depth,
    then Gaussian index (gsplat's isect_tiles + stable radix sort)."""
    ids = torch.nonzero((radii > 0).all(-1)).squeeze(-1)
    if ids.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long, device=means2d.device)
        return empty, empty
    # gsplat does this in float32 on the GPU; so do we, to pick the same tiles.
    m = means2d[ids].detach().float() / tile_size
    r = radii[ids].float() / tile_size
    x0 = torch.floor(m[:, 0] - r[:, 0]).clamp(0, tiles_x).long()
    x1 = torch.ceil(m[:, 0] + r[:, 0]).clamp(0, tiles_x).long()
    y0 = torch.floor(m[:, 1] - r[:, 1]).clamp(0, tiles_y).long()
    y1 = torch.ceil(m[:, 1] + r[:, 1]).clamp(0, tiles_y).long()
    nx, ny = x1 - x0, y1 - y0
    counts = nx * ny
    keep = counts > 0
    ids, x0, y0, nx, counts = ids[keep], x0[keep], y0[keep], nx[keep], counts[keep]
    owner, tile = box_cells(x0, y0, nx, counts, tiles_x)
    depth_rank = torch.empty_like(ids)
    depth_rank[torch.sort(depths[ids].detach(), stable=True).indices] = torch.arange(
        ids.numel(), device=ids.device
    )
    order = torch.argsort(tile * ids.numel() + depth_rank[owner])
    return tile[order], ids[owner[order]]


def _composite_tile(
    pixels: torch.Tensor,  # (P,2) sample positions
    means2d: torch.Tensor,  # (M,2) in depth order
    conics: torch.Tensor,  # (M,3)
    opacities: torch.Tensor,  # (M,)
    features: torch.Tensor,  # (M,D)
    block: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Front-to-back compositing of M Gaussians over P pixels: (P,D) weighted sum and (P,) final
    transmittance. Works through the Gaussians ``block`` at a time, carrying the transmittance."""
    num_pixels = pixels.shape[0]
    acc = features.new_zeros(num_pixels, features.shape[1])
    trans = features.new_ones(num_pixels)
    done = torch.zeros(num_pixels, dtype=torch.bool, device=pixels.device)
    for s in range(0, means2d.shape[0], block):
        dx = means2d[None, s : s + block, 0] - pixels[:, 0:1]  # (P,B)
        dy = means2d[None, s : s + block, 1] - pixels[:, 1:2]
        c = conics[s : s + block]
        power = 0.5 * (c[:, 0] * dx * dx + c[:, 2] * dy * dy) + c[:, 1] * dx * dy
        alpha = torch.clamp(opacities[s : s + block] * torch.exp(-power), max=ALPHA_MAX)
        alpha = torch.where((power >= 0) & (alpha >= ALPHA_MIN), alpha, torch.zeros_like(alpha))
        with torch.no_grad():
            # Transmittance after each Gaussian; T only falls, so "still above T_MIN" is a prefix.
            after = trans.detach()[:, None] * torch.cumprod(1.0 - alpha.detach(), dim=1)
            # A pixel stops for good at its first excluded Gaussian, also across blocks.
            included = (after > T_MIN) & ~done[:, None]
            done |= ~included[:, -1]
        alpha = alpha * included
        one_minus = 1.0 - alpha
        before = trans[:, None] * torch.cumprod(
            torch.cat([torch.ones_like(one_minus[:, :1]), one_minus[:, :-1]], 1), 1
        )
        acc = acc + (alpha * before) @ features[s : s + block]
        trans = before[:, -1] * one_minus[:, -1]
        if bool(done.all()):
            break
    return acc, trans


def rasterize_to_pixels(
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
    tile_size: int = 16,
    block: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One camera: (H,W,D) features composited over ``background`` (D,) and (H,W,1) alpha."""
    device, dtype = features.device, features.dtype
    num_channels = features.shape[1]
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    tile_of, gauss_of = _tile_intersections(means2d, radii, depths, tile_size, tiles_x, tiles_y)
    acc_parts, trans_parts, pixel_parts = [], [], []
    if tile_of.numel():
        tiles, counts = torch.unique_consecutive(tile_of, return_counts=True)
        bounds = torch.cumsum(counts, 0).tolist()
        offs = torch.arange(tile_size, device=device)
        need_grad = torch.is_grad_enabled() and any(
            t.requires_grad for t in (means2d, conics, opacities, features)
        )
        start = 0
        for tile, end in zip(tiles.tolist(), bounds, strict=True):
            ty, tx = divmod(tile, tiles_x)
            xs = offs + tx * tile_size
            ys = offs + ty * tile_size
            xs, ys = xs[xs < width], ys[ys < height]
            yy, xx = torch.meshgrid(ys, xs, indexing="ij")
            pixel_ids = (yy * width + xx).reshape(-1)
            samples = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1).to(dtype) + 0.5
            g = gauss_of[start:end]
            start = end
            args = (samples, means2d[g], conics[g], opacities[g], features[g])
            if need_grad:
                acc, trans = checkpoint(_composite_tile, *args, block, use_reentrant=False)
            else:
                acc, trans = _composite_tile(*args, block)
            acc_parts.append(acc)
            trans_parts.append(trans)
            pixel_parts.append(pixel_ids)
    num_pixels = width * height
    acc_img = features.new_zeros(num_pixels, num_channels)
    trans_img = features.new_ones(num_pixels)
    if pixel_parts:
        index = torch.cat(pixel_parts)
        acc_img = acc_img.index_put((index,), torch.cat(acc_parts))
        trans_img = trans_img.index_put((index,), torch.cat(trans_parts))
    color = acc_img
    if background is not None:
        color = color + trans_img[:, None] * background.to(dtype)
    return color.reshape(height, width, num_channels), (1.0 - trans_img).reshape(height, width, 1)


def rasterize_reference(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,  # noqa: N803
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    backgrounds: torch.Tensor | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    eps2d: float = 0.3,
    antialiased: bool = False,
    with_depth: bool = True,
    tile_size: int = 16,
    block: int = 4096,
    to_pixels: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, Any]]:
    """C cameras at once (viewmats (C,4,4), Ks (C,3,3)): colours (C,H,W,D), alphas (C,H,W,1),
    expected depth (C,H,W,1) (sum w z / sum w, 0 where nothing was drawn) or None, and meta.
    ``colors``: (N,D) values, or (N,K,3) SH coefficients when ``sh_degree`` is given.
    ``to_pixels`` replaces the tile compositor (same arguments, ``tile_size`` and ``block`` unused):
    the CPU backend passes pairs.rasterize_to_pixels_pairs."""
    proj = project(
        means, quats, scales, opacities, viewmats, Ks, width, height,
        near_plane=near_plane, far_plane=far_plane, eps2d=eps2d, antialiased=antialiased,
    )  # fmt: skip
    cameras = viewmats.shape[0]
    images, alphas, depth_images = [], [], []
    for cam in range(cameras):
        if sh_degree is None:
            feats = colors
        else:
            campos = -viewmats[cam, :3, :3].transpose(0, 1) @ viewmats[cam, :3, 3]
            feats = sh_to_rgb(colors, means - campos, sh_degree)
        bg = None if backgrounds is None else backgrounds[cam]
        if with_depth:
            feats = torch.cat([feats, proj["depths"][cam, :, None]], dim=-1)
            if bg is not None:
                bg = torch.cat([bg.to(feats.dtype), bg.new_zeros(1).to(feats.dtype)])
        args = (
            proj["means2d"][cam], proj["conics"][cam], proj["opacities"][cam], feats,
            proj["depths"][cam], proj["radii"][cam], width, height,
        )  # fmt: skip
        if to_pixels is None:
            img, alpha = rasterize_to_pixels(*args, background=bg, tile_size=tile_size, block=block)
        else:
            img, alpha = to_pixels(*args, background=bg)
        if with_depth:
            depth_images.append(img[..., -1:] / alpha.clamp_min(1e-10))
            img = img[..., :-1]
        images.append(img)
        alphas.append(alpha)
    depth = torch.stack(depth_images) if with_depth else None
    return torch.stack(images), torch.stack(alphas), depth, proj
