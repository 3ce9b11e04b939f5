"""Torch twin of core/rig/lbs.py: the same forward, batched over frames and differentiable.

Same meaning as ``core.rig.lbs.forward`` (and the smplx package's ``lbs``): blend shapes, joints
regressed from the shaped mesh (with any per-vertex offsets), pose correctives from (R - I) of every
non-root joint, forward kinematics, linear blend skinning, translation. tests/training/twins/test_lbs.py
holds the two within 1e-5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.rig.model import RigModel
from core.rig.params import RigParams


@dataclass
class TorchRigOutput:
    vertices: torch.Tensor  # (B,V,3) posed
    joints: torch.Tensor  # (B,J,3) posed joints
    rest_joints: torch.Tensor  # (B,J,3) joints of the shaped rest mesh
    shaped_vertices: torch.Tensor  # (B,V,3) rest mesh with shape, expression and offsets
    transforms: torch.Tensor  # (B,J,4,4) world transform of each joint frame


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """(...,3) axis-angle -> (...,3,3), R = I + a K + b K^2 with K = skew(v), a = sin t / t,
    b = (1 - cos t) / t^2; Taylor series near 0 keep values and gradients finite there."""
    theta2 = (axis_angle * axis_angle).sum(-1, keepdim=True)
    small = theta2 < 1e-8
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = torch.sqrt(theta2_safe)
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2_safe)
    x, y, z = axis_angle.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(
        axis_angle.shape[:-1] + (3, 3)
    )
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device).expand_as(skew)
    return eye + a[..., None] * skew + b[..., None] * (skew @ skew)


def fit_coefficients(tensor: torch.Tensor | None, batch: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """(B,size) coefficients: missing -> zeros, shorter -> zero-padded, longer -> cut (as numpy)."""
    if size == 0:
        return like.new_zeros((batch, 0))
    if tensor is None:
        return like.new_zeros((batch, size))
    t = tensor.to(like).reshape(-1, tensor.shape[-1]) if tensor.dim() > 1 else tensor.to(like)[None]
    t = t[:, :size]
    if t.shape[1] < size:
        t = torch.cat([t, t.new_zeros((t.shape[0], size - t.shape[1]))], dim=1)
    return t.expand(batch, size)


class TorchRig(torch.nn.Module):
    """A RigModel as torch buffers, with a batched forward.

    forward(betas (B,S)|(S,), expression (B,E)|(E,), pose (B,J,3)|(B,3J)|(J,3), transl (B,3)|(3,),
    vertex_offsets (B,V,3)|(V,3)) -> TorchRigOutput; any of them may be None (zeros); B is taken
    from whichever input has a batch axis, the others broadcast.
    """

    def __init__(
        self, model: RigModel, dtype: torch.dtype = torch.float32, device: str | torch.device | None = None
    ):
        super().__init__()
        self.family = model.family
        self.num_joints = model.num_joints
        self.num_vertices = model.num_vertices
        self.num_shape = model.num_shape
        self.num_expression = model.num_expression
        self.parents = [int(p) for p in model.parents]

        def buf(name: str, array: np.ndarray) -> None:
            self.register_buffer(
                name, torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)
            )

        nv = model.num_vertices
        buf("v_template", model.v_template)
        buf("shape_dirs", model.shape_dirs.reshape(nv * 3, model.num_shape))
        buf("expr_dirs", model.expr_dirs.reshape(nv * 3, model.num_expression))
        buf("pose_dirs", model.pose_dirs.reshape(nv * 3, model.num_pose_features))
        buf("joint_regressor", model.joint_regressor)
        buf("weights", model.weights)
        self.register_buffer("faces", torch.as_tensor(model.faces.astype(np.int64), device=device))
        # Buffers, not tensors made per call: copying a Python list to the GPU cannot be recorded in
        # a CUDA graph, and the renderer records the whole frame (training/render/frame_graph.py).
        self.register_buffer(
            "parent_index",
            torch.as_tensor(self.parents[1:], dtype=torch.long, device=device),
            persistent=False,
        )
        self.register_buffer(
            "homogeneous_row",
            torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=dtype, device=device),
            persistent=False,
        )

    @property
    def dtype(self) -> torch.dtype:
        return self.v_template.dtype

    def _batch(self, *inputs: torch.Tensor | None) -> int:
        sizes = {int(t.shape[0]) for t in inputs if t is not None}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError(f"Inputs have different batch sizes {sorted(sizes)}.")
        return sizes.pop() if sizes else 1

    def forward(
        self,
        betas: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        pose: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
        vertex_offsets: torch.Tensor | None = None,
    ) -> TorchRigOutput:
        nj, nv = self.num_joints, self.num_vertices
        if pose is not None:
            pose = pose.reshape(-1, nj, 3)
        if transl is not None:
            transl = transl.reshape(-1, 3)
        if vertex_offsets is not None:
            vertex_offsets = vertex_offsets.reshape(-1, nv, 3)
        b2 = betas if betas is None or betas.dim() > 1 else None
        e2 = expression if expression is None or expression.dim() > 1 else None
        batch = self._batch(b2, e2, pose, transl, vertex_offsets)
        like = self.v_template

        coeffs = fit_coefficients(betas, batch, self.num_shape, like)
        shaped = self.v_template.expand(batch, nv, 3)
        if self.num_shape:
            shaped = shaped + (coeffs @ self.shape_dirs.T).reshape(batch, nv, 3)
        if self.num_expression:
            expr = fit_coefficients(expression, batch, self.num_expression, like)
            shaped = shaped + (expr @ self.expr_dirs.T).reshape(batch, nv, 3)
        if vertex_offsets is not None:
            shaped = shaped + vertex_offsets.to(like)
        rest_joints = torch.einsum("jv,bvc->bjc", self.joint_regressor, shaped)

        if pose is None:
            pose = like.new_zeros((1, nj, 3))
        rotations = axis_angle_to_matrix(pose.to(like)).expand(batch, nj, 3, 3)
        eye = torch.eye(3, dtype=like.dtype, device=like.device)
        features = (rotations[:, 1:] - eye).reshape(batch, -1)
        posed_rest = shaped + (features @ self.pose_dirs.T).reshape(batch, nv, 3)

        offsets = torch.cat(
            [rest_joints[:, :1], rest_joints[:, 1:] - rest_joints[:, self.parent_index]], dim=1
        )
        local = torch.cat([rotations, offsets[..., None]], dim=-1)  # (B,J,3,4)
        bottom = self.homogeneous_row.expand(batch, nj, 1, 4)
        local = torch.cat([local, bottom], dim=-2)
        chain = [local[:, 0]]
        for j in range(1, nj):
            chain.append(chain[self.parents[j]] @ local[:, j])
        world = torch.stack(chain, dim=1)  # (B,J,4,4)

        rot = world[..., :3, :3]
        skin_t = world[..., :3, 3] - (rot @ rest_joints[..., None])[..., 0]
        skin = torch.cat([rot, skin_t[..., None]], dim=-1)  # (B,J,3,4)
        blended = torch.einsum("vj,bjrc->bvrc", self.weights, skin)
        vertices = (blended[..., :3] @ posed_rest[..., None])[..., 0] + blended[..., 3]
        joints = world[..., :3, 3]
        if transl is not None:
            t = transl.to(like).expand(batch, 3)
            vertices = vertices + t[:, None]
            joints = joints + t[:, None]
            world = torch.cat([world[..., :3, :3], (world[..., :3, 3] + t[:, None])[..., None]], dim=-1)
            world = torch.cat([world, bottom], dim=-2)
        return TorchRigOutput(
            vertices=vertices,
            joints=joints,
            rest_joints=rest_joints,
            shaped_vertices=shaped,
            transforms=world,
        )

    def forward_params(self, params: RigParams) -> TorchRigOutput:
        """All frames of a RigParams (from core.rig.params) at once."""
        like = self.v_template

        def t(array: np.ndarray | None) -> torch.Tensor | None:
            return None if array is None else torch.as_tensor(array, dtype=like.dtype, device=like.device)

        return self(
            betas=t(params.betas),
            expression=t(params.expression),
            pose=t(params.pose),
            transl=t(params.transl),
            vertex_offsets=t(params.vertex_offsets),
        )
