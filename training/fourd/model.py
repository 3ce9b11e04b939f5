"""The trainable sequence: canonical Gaussians (3DGS parameters in the dataset's world), each with
a temporal opacity and a linear motion about its time centre, and the deformation field that
moves them further at any time."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from training.fourd.config import FourDConfig
from training.fourd.field import DeformationField
from training.model.posing import WorldGaussians

# Per-Gaussian parameters, in the order checkpoints and density control use. ``time_centre`` and
# ``time_log_width`` shape a temporal opacity (a Gaussian bump in time, with ``temporal_opacity``):
# a Gaussian carved from one time's hull starts visible around that time only. ``velocity`` and
# ``spin`` move it linearly in time away from its centre (position and quaternion per unit of
# normalised time): between two training times it then moves instead of fading out while a copy
# at the next pose fades in.
GAUSSIAN_NAMES = (
    "means", "quats", "log_scales", "opacity", "sh_dc", "sh_rest", "time_centre", "time_log_width",
    "velocity", "spin",
)  # fmt: skip


def time_cells(cfg: FourDConfig, num_frames: int) -> int:
    return cfg.time_resolution or min(64, max(2, num_frames))


class SequenceModel(nn.Module):
    def __init__(
        self,
        gaussians: dict[str, torch.Tensor],
        field: DeformationField,
        temporal: bool = True,
        min_time_width: float = 0.0,
        time_power: float = 2.0,
        gap_width: float = 0.0,
    ) -> None:
        super().__init__()
        self.temporal = temporal
        # Narrowest temporal opacity (normalised time): every Gaussian stays visible at the
        # training times next to its own, so what it looks like between them is trained too.
        self.min_time_width = min_time_width
        # The bump's shape: exp(-|d / width|^power / 2); above 2 its top is flatter, so a
        # Gaussian stays opaque between two training times and fades quickly past them.
        self.time_power = max(2.0, time_power)
        # On each side a bump is at least gap_width times the gap to the neighbouring training time
        # (set_training_times): nothing is trained between two training times, so without a floor
        # the bumps narrow as training goes on and Gaussians fade out where a held-out time falls
        # between them (docs/MEASUREMENTS.md, session 32: held-out time 21.7 -> 19.2 dB from 3,200
        # to 16,000 iterations). 0.5 keeps exp(-1/2) of the opacity half-way to the neighbours.
        self.gap_width = gap_width
        self.register_buffer("training_times", torch.zeros(0), persistent=False)
        self.params = nn.ParameterDict({k: nn.Parameter(gaussians[k].clone()) for k in GAUSSIAN_NAMES})
        self.field = field

    @classmethod
    def build(
        cls,
        cfg: FourDConfig,
        gaussians: dict[str, torch.Tensor],
        bounds: torch.Tensor,
        num_frames: int,
        generator: torch.Generator,
    ) -> SequenceModel:
        field = DeformationField(
            bounds, cfg.plane_resolution, time_cells(cfg, num_frames), cfg.plane_features, cfg.hidden,
            cfg.opacity_head, cfg.frame_code, generator,
        )  # fmt: skip
        width = cfg.min_time_width / max(1, num_frames - 1)
        return cls(gaussians, field, cfg.temporal_opacity, width, cfg.time_power, cfg.gap_width)

    def set_training_times(self, times: list[float]) -> None:
        """The normalised times the run trains at (the floor of the temporal widths)."""
        device = self.training_times.device
        self.training_times = torch.tensor(sorted(set(times)), dtype=torch.float32, device=device)

    def gap_to_training_time(self, centre: torch.Tensor, after: bool) -> torch.Tensor:
        """(G,) distance from each centre to the nearest training time after (or before) it; 0
        past the last (or before the first) one, and with no training times set."""
        times = self.training_times
        if len(times) == 0:
            return torch.zeros_like(centre)
        tolerance = 1e-6  # a centre on a training time: its neighbour is the next one
        if after:
            index = torch.searchsorted(times, centre + tolerance)
            found = index < len(times)
            gap = times[index.clamp_max(len(times) - 1)] - centre
        else:
            index = torch.searchsorted(times, centre - tolerance) - 1
            found = index >= 0
            gap = centre - times[index.clamp_min(0)]
        return torch.where(found, gap, torch.zeros_like(gap))

    @property
    def num_gaussians(self) -> int:
        return int(self.params["means"].shape[0])

    @property
    def max_sh_degree(self) -> int:
        return round((self.params["sh_rest"].shape[1] + 1) ** 0.5) - 1

    def at_time(self, time: float, sh_degree: int, deform: bool = True) -> WorldGaussians:
        """The Gaussians at ``time`` (the canonical ones without ``deform``)."""
        p = self.params
        means, quats, log_scales, opacity = p["means"], p["quats"], p["log_scales"], p["opacity"]
        if deform:
            offsets = self.field(means, time)
            since = (time - p["time_centre"])[:, None]
            means = means + p["velocity"] * since + offsets["means"]
            quats = quats + p["spin"] * since + offsets["quats"]
            log_scales = log_scales + offsets["log_scales"]
            if "opacity" in offsets:
                opacity = opacity + offsets["opacity"][:, 0]
        coefficients = (sh_degree + 1) ** 2
        sh = torch.cat([p["sh_dc"][:, None], p["sh_rest"][:, : coefficients - 1]], dim=1)
        opacities = torch.sigmoid(opacity)
        if deform and self.temporal:
            width = p["time_log_width"].exp().clamp_min(self.min_time_width)
            if self.gap_width > 0:
                centre = p["time_centre"].detach()
                gap = torch.where(
                    time >= centre,
                    self.gap_to_training_time(centre, after=True),
                    self.gap_to_training_time(centre, after=False),
                )
                width = torch.maximum(width, self.gap_width * gap)
            distance2 = ((time - p["time_centre"]) / width).square()
            opacities = opacities * torch.exp(-0.5 * distance2.pow(0.5 * self.time_power))
        return WorldGaussians(
            means, nn.functional.normalize(quats, dim=-1), log_scales.exp(), opacities, sh, sh_degree, None,
        )  # fmt: skip

    def gaussian_state(self) -> dict[str, Any]:
        return {k: v.detach().cpu() for k, v in self.params.items()}
