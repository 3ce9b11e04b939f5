"""One frame of the avatar: rig inputs -> posed mesh (torch LBS twin) -> world Gaussians (torch
binding twin, with the dynamic blendshapes) ready for the rasterizer.

The maths lives in the twins of the numpy code Blender runs: ``training/twins/lbs.py`` (LBS) and
``training/twins/binding.py`` (face frames, binding, dynamics). This module only wires
them together, caches what does not change per frame (the identity-shaped template), and keeps
the training-only extras (regulariser inputs) next to the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from training.model.face_gaussians import GaussianSet
from training.model.smoothing import smooth_3d
from training.model.tracking import FrameInputs


@dataclass
class WorldGaussians:
    means: torch.Tensor  # (G,3)
    quats: torch.Tensor  # (G,4) unit
    scales: torch.Tensor  # (G,3) linear
    opacities: torch.Tensor  # (G,) in [0,1]
    sh: torch.Tensor  # (G,(d+1)^2,3)
    sh_degree: int
    deltas: torch.Tensor | None  # (G,14) dynamic blendshape deltas of this frame


class RigPoser:
    """The rig of an avatar (model + identity) as a torch function of per-frame inputs."""

    def __init__(self, rig_model, betas, vertex_offsets, device: torch.device) -> None:
        from training.twins import lbs as rig_torch

        self.model = rig_model
        self.device = device
        self.rig = rig_torch.TorchRig(rig_model, device=device)
        self.rig.requires_grad_(False)
        self.faces = torch.as_tensor(rig_model.faces, dtype=torch.long, device=device)
        self.betas = torch.as_tensor(betas, dtype=torch.float32, device=device)
        self.vertex_offsets = (
            None
            if vertex_offsets is None
            else torch.as_tensor(vertex_offsets, dtype=torch.float32, device=device).reshape(-1, 3)
        )

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def num_pose_features(self) -> int:
        return int(self.model.num_pose_features)

    def mesh(self, inputs: FrameInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """Posed vertices (V,3) and the pose-corrective features (P,) of one frame."""
        from training.twins.lbs import axis_angle_to_matrix

        pose = inputs.pose.reshape(-1, 3)
        out = self.rig(
            betas=self.betas,
            expression=inputs.expression,
            pose=pose,
            transl=inputs.transl,
            vertex_offsets=self.vertex_offsets,
        )
        # The same features the rig's correctives use: (R_j - I) of every joint but the root.
        eye = torch.eye(3, dtype=pose.dtype, device=pose.device)
        features = (axis_angle_to_matrix(pose[1:]) - eye).reshape(-1)
        return out.vertices[0], features

    def rest_mesh(self) -> torch.Tensor:
        """Identity shape, zero expression, zero pose: where the avatar file's PLY is posed."""
        j = self.model.num_joints
        zeros = FrameInputs(
            expression=torch.zeros(max(1, self.model.num_expression), device=self.device),
            pose=torch.zeros(j, 3, device=self.device),
            transl=torch.zeros(3, device=self.device),
        )
        return self.mesh(zeros)[0]


def dynamic_features(
    expression: torch.Tensor, pose_features: torch.Tensor, num_expression: int
) -> torch.Tensor:
    """f = [first E expression coefficients (zero-padded), pose features] (docs/DESIGN.md)."""
    e = expression.reshape(-1)[:num_expression]
    if e.shape[0] < num_expression:
        e = torch.cat([e, e.new_zeros(num_expression - e.shape[0])])
    return torch.cat([e, pose_features.reshape(-1)])


def bind_world(
    params: Mapping[str, torch.Tensor],
    parent_face: torch.Tensor,
    vertices: torch.Tensor,
    faces: torch.Tensor,
    features: torch.Tensor | None,
    sh_degree: int,
    smoothing: float = 0.0,
) -> WorldGaussians:
    """Bind Gaussians (their parameters by name, see GaussianSet) to a posed mesh, with this
    frame's dynamic deltas when the parameters have a basis and features are given, and the 3D
    smoothing filter of std ``smoothing`` (world units, training/model/smoothing.py) when set.

    ``vertices`` (V,3) and ``features`` (F,) for one frame, or (B,V,3) and (B,F) for B frames
    (every output then has a leading B axis)."""
    from training.twins import binding as bt
    from training.twins import shading as shading_twin

    deltas = None
    if "dyn_basis" in params and features is not None:
        deltas = bt.dynamic_deltas(params["dyn_basis"], params["dyn_mix"], features)
    frames = bt.face_frames(vertices, faces)
    means, quats, log_scales = bt.bind(
        frames, parent_face, params["offset"], params["rotation"], params["log_scale"], deltas
    )
    opacity_logit = params["opacity"]
    dc = params["sh_dc"]
    if deltas is not None:
        opacity_logit = opacity_logit + deltas[..., 10]
        dc = dc + deltas[..., None, 11:14]
    if "shading" in params:  # the trainer's form of core/avatar/shading.py: dc' + S n
        dc = dc + shading_twin.dc_delta(params["shading"], frames.rotations, parent_face)[..., None, :]
    coeffs = (sh_degree + 1) ** 2
    rest = params["sh_rest"][:, : coeffs - 1]
    if coeffs > 1 and dc.dim() > rest.dim():
        rest = rest.expand(*dc.shape[:-3], *rest.shape)
    sh = torch.cat([dc, rest], dim=-2) if coeffs > 1 else dc
    scales, opacities = smooth_3d(torch.exp(log_scales), torch.sigmoid(opacity_logit), smoothing)
    return WorldGaussians(
        means=means,
        quats=quats,
        scales=scales,
        opacities=opacities,
        sh=sh,
        sh_degree=sh_degree,
        deltas=deltas,
    )


def world_gaussians(
    gaussians: GaussianSet,
    vertices: torch.Tensor,
    faces: torch.Tensor,
    features: torch.Tensor | None,
    sh_degree: int,
    smoothing: float = 0.0,
) -> WorldGaussians:
    """``bind_world`` for a GaussianSet."""
    params, parent = gaussians.params, gaussians.parent_face
    return bind_world(params, parent, vertices, faces, features, sh_degree, smoothing)
