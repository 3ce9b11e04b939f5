"""The trainable Gaussians of one avatar, in the binding's local (face) coordinates.

Per-Gaussian parameters (first axis G), named as in the avatar file's binding.npz / PLY:
``offset`` (G,3) face units, ``rotation`` (G,4) local quaternion w,x,y,z (unnormalised),
``log_scale`` (G,3) log of face units, ``opacity`` (G,) logit, ``sh_dc`` (G,1,3),
``sh_rest`` (G,(D+1)^2-1,3), with dynamics ``dyn_basis`` (G,K,14), with normal shading
``shading`` (G,3,3) (SH DC += shading @ world normal of the parent face). Shared: ``dyn_mix``
(K, E_dyn + P). ``parent_face`` (G,) is a buffer: densification copies it, never changes it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from training.model.surface import face_areas, sample_surface
from training.twins.binding import face_frames

DYN_CHANNELS = 14  # d_offset 3, d_rotation 4, d_log_scale 3, d_opacity 1, d_color_dc 3
PER_GAUSSIAN = ("offset", "rotation", "log_scale", "opacity", "sh_dc", "sh_rest", "dyn_basis", "shading")


def logit(p: float) -> float:
    return math.log(p / (1 - p))


class GaussianSet(nn.Module):
    def __init__(
        self,
        num_gaussians: int,
        num_faces: int,
        sh_degree: int,
        dynamics_rank: int = 0,
        num_features: int = 0,
        device: torch.device | str = "cpu",
        shading: bool = False,
    ) -> None:
        super().__init__()
        g = num_gaussians
        self.num_faces = num_faces
        self.max_sh_degree = sh_degree
        self.dynamics_rank = dynamics_rank
        self.num_features = num_features
        zeros = lambda *shape: torch.zeros(*shape, device=device)  # noqa: E731
        params = {
            "offset": zeros(g, 3),
            "rotation": torch.tensor([1.0, 0, 0, 0], device=device).repeat(g, 1),
            "log_scale": zeros(g, 3),
            "opacity": zeros(g),
            "sh_dc": zeros(g, 1, 3),
            "sh_rest": zeros(g, (sh_degree + 1) ** 2 - 1, 3),
        }
        if dynamics_rank > 0:
            params["dyn_basis"] = zeros(g, dynamics_rank, DYN_CHANNELS)
            params["dyn_mix"] = zeros(dynamics_rank, num_features)
        if shading:  # SH DC += shading @ the parent face's world normal (core/avatar/shading.py)
            params["shading"] = zeros(g, 3, 3)
        self.params = nn.ParameterDict({k: nn.Parameter(v) for k, v in params.items()})
        self.register_buffer("parent_face", torch.zeros(g, dtype=torch.long, device=device))

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def on_surface(
        cls,
        rest_vertices: torch.Tensor,
        faces: torch.Tensor,
        count: int,
        sh_degree: int,
        dynamics_rank: int,
        num_features: int,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        init_opacity: float = 0.1,
        shading: bool = False,
    ) -> GaussianSet:
        """Gaussians sampled on the rest mesh (area-weighted, at least one per face), round, with
        a size that tiles each face's area, grey, semi-transparent and with zero dynamics."""
        parent, local, per_face = sample_surface(rest_vertices, faces, count, generator)
        model = cls(parent.shape[0], faces.shape[0], sh_degree, dynamics_rank, num_features, device, shading)
        v = rest_vertices.double().cpu()
        f = faces.long().cpu()
        size = face_frames(v, f).sizes
        area = face_areas(v, f)
        # A disc of radius ~ 1 sigma per point covers the face: sigma^2 * pi * n = area.
        sigma = torch.sqrt(area[parent] / (math.pi * per_face[parent].clamp_min(1)))
        log_s = torch.log((sigma / size[parent]).clamp_min(1e-4)).float()
        with torch.no_grad():
            model.params["offset"].copy_(local.float())
            model.params["log_scale"].copy_(log_s[:, None].expand(-1, 3))
            model.params["opacity"].fill_(logit(init_opacity))
            if dynamics_rank > 0:
                # Random mix, zero basis: gradients reach the basis from the first step, and the
                # avatar starts static.
                mix = torch.randn(dynamics_rank, num_features, generator=generator)
                model.params["dyn_mix"].copy_(mix / math.sqrt(max(1, num_features)))
        model.parent_face.copy_(parent)
        return model

    # --- sizes --------------------------------------------------------------------------------
    @property
    def num_gaussians(self) -> int:
        return int(self.parent_face.shape[0])

    @property
    def has_dynamics(self) -> bool:
        return "dyn_basis" in self.params

    def per_gaussian_names(self) -> list[str]:
        return [n for n in PER_GAUSSIAN if n in self.params]

    def sh_coeffs(self, degree: int) -> torch.Tensor:
        """(G, (degree+1)^2, 3) SH coefficients up to ``degree``."""
        n = (degree + 1) ** 2
        return torch.cat([self.params["sh_dc"], self.params["sh_rest"][:, : n - 1]], dim=1)

    def faces_in_use(self) -> torch.Tensor:
        return torch.bincount(self.parent_face, minlength=self.num_faces)

    # --- checkpoints ----------------------------------------------------------------------------
    def export_state(self) -> dict[str, torch.Tensor]:
        state = {k: v.detach().clone() for k, v in self.params.items()}
        state["parent_face"] = self.parent_face.clone()
        return state

    @classmethod
    def from_state(
        cls, state: dict[str, torch.Tensor], num_faces: int, device: torch.device | str
    ) -> GaussianSet:
        g = state["offset"].shape[0]
        sh_degree = round(math.sqrt(state["sh_rest"].shape[1] + 1)) - 1
        rank = state["dyn_basis"].shape[1] if "dyn_basis" in state else 0
        features = state["dyn_mix"].shape[1] if "dyn_mix" in state else 0
        model = cls(g, num_faces, sh_degree, rank, features, device, shading="shading" in state)
        with torch.no_grad():
            for k, v in state.items():
                if k == "parent_face":
                    model.parent_face.copy_(v)
                else:
                    model.params[k].copy_(v)
        return model
