"""The deformation field: factorised feature planes over (x, y, z, t) and small MLP heads.

Each of two resolution levels holds six planes, one per pair of the four axes: three spatial
(xy, xz, yz) and three space-time (xt, yt, zt). A point's feature at a level is the product of its
six bilinear plane samples (so a change along time can stay local in space); the levels'
features are concatenated, optionally with a per-frame code interpolated in time, and a shared
layer feeds one head per output: position offset, rotation offset (added to the quaternion before
normalising), log-scale offset and, optionally, opacity-logit offset. The heads' last layers start
at zero, so training starts from the canonical Gaussians unmoved; the space-time planes start at
one, so at first every time reads the same feature.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention
from torch import nn

SPATIAL_PAIRS = ((0, 1), (0, 2), (1, 2))
TIME_PAIRS = ((0, 3), (1, 3), (2, 3))
OUTPUTS = {"means": 3, "quats": 4, "log_scales": 3, "opacity": 1}


class DeformationField(nn.Module):
    def __init__(
        self,
        bounds: torch.Tensor,
        plane_resolution: int,
        time_resolution: int,
        features: int,
        hidden: int,
        opacity_head: bool = True,
        code_length: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.register_buffer("bounds", bounds.detach().clone().float())  # (2,3) min, max
        self.levels = [max(2, plane_resolution), max(2, plane_resolution // 2)]
        self.time_resolution = max(2, time_resolution)
        planes = []
        for res in self.levels:
            for _pair in SPATIAL_PAIRS:
                planes.append(
                    nn.Parameter(0.1 + 0.4 * torch.rand(1, features, res, res, generator=generator))
                )
            for _pair in TIME_PAIRS:
                planes.append(nn.Parameter(torch.ones(1, features, self.time_resolution, res)))
        self.planes = nn.ParameterList(planes)
        self.codes = nn.Parameter(torch.zeros(self.time_resolution, code_length)) if code_length else None
        width = features * len(self.levels) + code_length
        self.trunk = nn.Sequential(nn.Linear(width, hidden), nn.ReLU())
        names = [n for n in OUTPUTS if n != "opacity" or opacity_head]
        self.heads = nn.ModuleDict(
            {
                n: nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, OUTPUTS[n]))
                for n in names
            }
        )
        for head in self.heads.values():
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)

    def plane_parameters(self) -> list[nn.Parameter]:
        return list(self.planes)

    def head_parameters(self) -> list[nn.Parameter]:
        return [*self.trunk.parameters(), *self.heads.parameters()]

    def normalised(self, points: torch.Tensor) -> torch.Tensor:
        lo, hi = self.bounds[0], self.bounds[1]
        return (2.0 * (points - lo) / (hi - lo).clamp_min(1e-9) - 1.0).clamp(-1.0, 1.0)

    def features(self, points: torch.Tensor, time: float) -> torch.Tensor:
        """(G, F * levels [+ code]) features of canonical points at ``time`` in [0, 1]."""
        x = self.normalised(points)
        t = x.new_full((x.shape[0], 1), 2.0 * float(time) - 1.0)
        coords = torch.cat([x, t], dim=1)  # (G,4) in [-1, 1]
        out = []
        index = 0
        for _res in self.levels:
            level = None
            for a, b in SPATIAL_PAIRS + TIME_PAIRS:
                plane = self.planes[index]
                index += 1
                # grid_sample reads (u, v) = (width axis, height axis): the first axis of the
                # pair along the width, the second (time for space-time planes) along the height.
                grid = torch.stack([coords[:, a], coords[:, b]], dim=-1).view(1, -1, 1, 2)
                sample = F.grid_sample(plane, grid, mode="bilinear", align_corners=True)
                sample = sample.view(plane.shape[1], -1).t()  # (G, F)
                level = sample if level is None else level * sample
            assert level is not None
            out.append(level)
        if self.codes is not None:
            out.append(self.code_at(time).expand(x.shape[0], -1))
        return torch.cat(out, dim=1)

    def code_at(self, time: float) -> torch.Tensor:
        """The per-frame code, linearly interpolated between its time cells."""
        assert self.codes is not None
        pos = min(max(float(time), 0.0), 1.0) * (self.time_resolution - 1)
        lo = min(int(pos), self.time_resolution - 2)
        w = pos - lo
        return (self.codes[lo] * (1.0 - w) + self.codes[lo + 1] * w)[None]

    def forward(self, points: torch.Tensor, time: float) -> dict[str, torch.Tensor]:
        """Offsets per output name: (G,3) means, (G,4) quats, (G,3) log_scales, (G,1) opacity."""
        hidden = self.trunk(self.features(points, time))
        return {name: head(hidden) for name, head in self.heads.items()}

    def smoothness(self) -> torch.Tensor:
        """Mean squared change of the space-time planes from one time cell to the next."""
        terms = []
        per_level = len(SPATIAL_PAIRS) + len(TIME_PAIRS)
        for level in range(len(self.levels)):
            for j in range(len(TIME_PAIRS)):
                plane = self.planes[level * per_level + len(SPATIAL_PAIRS) + j]
                terms.append((plane[:, :, 1:] - plane[:, :, :-1]).pow(2).mean())
        return torch.stack(terms).mean()
