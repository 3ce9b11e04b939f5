"""Normal shading of bound Gaussians (docs/DESIGN.md "Normal shading").

Captures are lit by lights fixed in the world, so skin brightens and darkens as the head turns, the
jaw opens or a cheek puffs out. Each Gaussian's base colour therefore follows the world-space unit
normal ``n`` of its parent face (the face frame's z axis) linearly:

    SH DC = f_dc + dynamics' d_dc + S (n - n_rest)

with ``S`` (3x3: rows the colour channel in SH DC units, columns the normal's x, y, z) and
``n_rest`` the parent face's normal on the avatar's rest mesh, so the PLY's ``f_dc`` stays the rest
pose's colour. The trainer (training/model/posing.py) is the torch twin; a test holds them equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .binding import BindingError, FaceFrames


@dataclass(eq=False)
class Shading:
    matrix: np.ndarray  # (G,3,3)
    rest_normal: np.ndarray  # (G,3), unit (zero for a degenerate rest face)

    def __post_init__(self) -> None:
        g = self.matrix.shape[0] if self.matrix.ndim == 3 else -1
        if self.matrix.ndim != 3 or self.matrix.shape[1:] != (3, 3):
            raise BindingError(f"shading matrix has shape {self.matrix.shape}, expected (G, 3, 3)")
        if self.rest_normal.shape != (g, 3):
            raise BindingError(f"shading rest normals have shape {self.rest_normal.shape}, expected ({g}, 3)")

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def subset(self, index: np.ndarray) -> Shading:
        return Shading(self.matrix[index], self.rest_normal[index])

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.matrix).all() and np.isfinite(self.rest_normal).all())

    def dc_delta(
        self, frames: FaceFrames, parent_face: np.ndarray, light_rotation: np.ndarray | None = None
    ) -> np.ndarray:
        """(G,3) change of the SH DC coefficient for a posed mesh's face frames, in the matrix's
        dtype (one dtype keeps einsum on its fast path: 5x faster than float32 x float64).
        light_rotation: the key light turned by R (core/avatar/relight.py): normals become R^T n."""
        normals = frames.rotations[np.asarray(parent_face), :, 2]
        if light_rotation is not None:
            normals = normals @ np.asarray(light_rotation, dtype=np.float64)  # rows: (R^T n)^T
        normals = normals.astype(self.matrix.dtype)
        return np.einsum("gcd,gd->gc", self.matrix, normals - self.rest_normal)


def face_normals(frames: FaceFrames) -> np.ndarray:
    """(F,3) unit normals of the faces (the frames' z axes)."""
    return frames.rotations[:, :, 2]
