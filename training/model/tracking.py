"""Per-timestep rig inputs of a dataset as tensors, with optional learnable refinements.

The tracked parameters of each timestep (expression, per-joint axis-angle pose, translation) are
fixed buffers; refinement adds small learnable deltas per timestep (expression and pose on by
default). The deltas belong to the training run, never to the avatar: the avatar file's identity
holds only the shape (and static offsets), and ``fit`` writes the refined tracking beside it.

With ``zero_mean`` the deltas' mean over the timesteps is taken out. A shift shared by every
training frame cannot be told apart from the avatar itself; left in, the Gaussians adapt to it and
unseen frames, which only have their tracked values, pay for it (training/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class FrameInputs:
    """Rig inputs of one frame (torch, on the training device)."""

    expression: torch.Tensor  # (E,)
    pose: torch.Tensor  # (J,3) axis-angle
    transl: torch.Tensor  # (3,)


class TrackedSequence(nn.Module):
    def __init__(
        self,
        timesteps: Sequence[int],
        expression: np.ndarray,  # (T,E)
        pose: np.ndarray,  # (T,J,3)
        transl: np.ndarray,  # (T,3)
        refine: Sequence[str] = (),
        device: torch.device | str = "cpu",
        zero_mean: bool = False,
    ) -> None:
        super().__init__()
        self.zero_mean = zero_mean
        self.timesteps = [int(t) for t in timesteps]
        self.row = {t: i for i, t in enumerate(self.timesteps)}
        as_t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)  # noqa: E731
        self.register_buffer("expression", as_t(expression))
        self.register_buffer("pose", as_t(pose))
        self.register_buffer("transl", as_t(transl))
        shapes = {"expression": self.expression.shape, "pose": self.pose.shape, "transl": self.transl.shape}
        self.deltas = nn.ParameterDict(
            {name: nn.Parameter(torch.zeros(shapes[name], device=device)) for name in refine}
        )

    def __contains__(self, timestep: int) -> bool:
        return int(timestep) in self.row

    def inputs(self, timestep: int, refined: bool = True) -> FrameInputs:
        i = self.row[int(timestep)]
        values = {"expression": self.expression[i], "pose": self.pose[i], "transl": self.transl[i]}
        if refined:
            for name, delta in self.deltas.items():
                values[name] = values[name] + self._delta(delta)[i]
        return FrameInputs(**values)

    def _delta(self, delta: torch.Tensor) -> torch.Tensor:
        return delta - delta.mean(0) if self.zero_mean else delta

    def refined_arrays(self) -> dict[str, np.ndarray]:
        """Tracked values with the refinements applied, stacked over timesteps (for tracking.npz)."""
        out = {"timesteps": np.asarray(self.timesteps, dtype=np.int64)}
        for name in ("expression", "pose", "transl"):
            value = getattr(self, name)
            if name in self.deltas:
                value = value + self._delta(self.deltas[name])
            out[name] = value.detach().cpu().numpy()
        return out
