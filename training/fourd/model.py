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
    ) -> None:
        super().__init__()
        self.temporal = temporal
        # Narrowest temporal opacity (normalised time): every Gaussian stays visible at the
        # training times next to its own, so what it looks like between them is trained too.
        self.min_time_width = min_time_width
        # The bump's shape: exp(-|d / width|^power / 2); above 2 its top is flatter, so a
        # Gaussian stays opaque between two training times and fades quickly past them.
        self.time_power = max(2.0, time_power)
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
        return cls(gaussians, field, cfg.temporal_opacity, width, cfg.time_power)

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
            distance2 = ((time - p["time_centre"]) / width).square()
            opacities = opacities * torch.exp(-0.5 * distance2.pow(0.5 * self.time_power))
        return WorldGaussians(
            means, nn.functional.normalize(quats, dim=-1), log_scales.exp(), opacities, sh, sh_degree, None,
        )  # fmt: skip

    def gaussian_state(self) -> dict[str, Any]:
        return {k: v.detach().cpu() for k, v in self.params.items()}
