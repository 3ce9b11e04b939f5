"""GPU copies of one splat object's Gaussians, and the textures its passes write.

Uploaded once per splat data (``SplatGpuData(arrays)``):
- static splats: the "world" textures directly (mean + opacity, rotation, scale, SH DC);
- bound splats: the binding (face, offset), local rotation, local log-scale + opacity logit,
  SH DC, the dynamics basis (4 texels per Gaussian and rank row), the normal shading (3 texels
  per Gaussian: row c of S and (S n_rest)_c, so the shader adds dot(row, (n, -1))), and the
  driver's faces;
- SH coefficients 1.. (all degrees: 3, 6 or 12 texels per Gaussian).
Per frame only the world textures change: written by the bind compute (GPU path) or replaced by
an upload of numpy results (CPU path). Per view: the splat textures and the sort.
"""

from __future__ import annotations

import numpy as np

from ..sorting import GpuRadixSort
from ..splats.data import DYN_CHANNELS, DYN_PAD, SplatArrays
from . import arrays as gpu_arrays
from .api import Texture

SHADING_TEXELS = 3  # one per colour channel

WORLD_NAMES = ("world_mean", "world_rotation", "world_scale", "world_dc")
SPLAT_NAMES = ("splat_center", "splat_conic", "splat_color", "splat_axes")


def sh_texels_per_gaussian(sh_degree: int) -> int:
    return -(-3 * ((sh_degree + 1) ** 2 - 1) // 4)


def shading_rows(matrix: np.ndarray, rest_normal: np.ndarray) -> np.ndarray:
    """(G,12) texels of the normal shading: per channel c, (S[c,0], S[c,1], S[c,2], S[c] . n_rest),
    so that dot(texel, (n, -1)) = (S (n - n_rest))_c."""
    matrix = np.asarray(matrix, dtype=np.float64)
    rest_term = np.einsum("gcd,gd->gc", matrix, np.asarray(rest_normal, dtype=np.float64))
    return np.concatenate([matrix, rest_term[:, :, None]], axis=2).reshape(len(matrix), 12)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def normalized(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-20)


class SplatGpuData:
    def __init__(self, arrays: SplatArrays, faces: np.ndarray | None = None) -> None:
        self.count = arrays.count
        self.sh_degree = arrays.sh_degree
        self.sh_texels = sh_texels_per_gaussian(self.sh_degree)
        self.is_bound = arrays.is_bound
        self.rank = arrays.dyn_rank
        self.has_shading = arrays.has_shading
        g = self.count
        if self.sh_degree > 0:
            rest = arrays.sh[:, 1:, :].reshape(g, -1)  # coefficient-major rgb
            self.sh_rest = gpu_arrays.upload(rest, self.sh_texels)
        else:
            self.sh_rest = gpu_arrays.upload(np.zeros((1, 4), np.float32))
        self.world: dict[str, Texture] = {}
        if self.is_bound:
            assert arrays.parent_face is not None and arrays.offsets is not None and faces is not None
            self.num_faces = len(faces)
            self.faces = gpu_arrays.upload(np.asarray(faces, dtype=np.float32))
            faces_and_offsets = np.column_stack([arrays.parent_face.astype(np.float32), arrays.offsets])
            self.binding = gpu_arrays.upload(faces_and_offsets)
            self.local_rotation = gpu_arrays.upload(arrays.quats)
            self.local_scale = gpu_arrays.upload(np.column_stack([arrays.log_scales, arrays.opacity_logits]))
            self.sh_dc = gpu_arrays.upload(arrays.sh[:, 0])
            if self.rank and arrays.dyn_basis is not None:
                padded = np.zeros((g * self.rank, DYN_PAD), dtype=np.float32)
                padded[:, :DYN_CHANNELS] = arrays.dyn_basis.reshape(g * self.rank, DYN_CHANNELS)
                self.basis = gpu_arrays.upload(padded, DYN_PAD // 4)
            else:
                self.basis = gpu_arrays.upload(np.zeros((1, 4), np.float32))
            if arrays.shading_matrix is not None and arrays.shading_rest_normal is not None:
                rows = shading_rows(arrays.shading_matrix, arrays.shading_rest_normal)
                self.shading = gpu_arrays.upload(rows, SHADING_TEXELS)
            else:
                self.shading = gpu_arrays.upload(np.zeros((1, 4), np.float32))
            self.frame_origin = gpu_arrays.empty(self.num_faces)
            self.frame_rotation = gpu_arrays.empty(self.num_faces)
            self.world = {name: gpu_arrays.empty(g) for name in WORLD_NAMES}
        else:
            self.set_world(
                arrays.means,
                normalized(arrays.quats),
                np.exp(arrays.log_scales.astype(np.float64)),
                sigmoid(arrays.opacity_logits),
                arrays.sh[:, 0],
            )
        self.splat = {name: gpu_arrays.empty(g) for name in SPLAT_NAMES}
        self.sorter = GpuRadixSort(g)
        # The order the draw reads: the GPU sort's result, or an uploaded numpy order.
        self.sorted_values: Texture = self.sorter.values

    def set_world(
        self,
        means: np.ndarray,
        rotations: np.ndarray,
        scales: np.ndarray,
        opacities: np.ndarray,
        dc: np.ndarray,
    ) -> None:
        """Uploads world Gaussians (object space; unit quaternions, activated scale/opacity)."""
        self.world = {
            "world_mean": gpu_arrays.upload(np.column_stack([means, opacities])),
            "world_rotation": gpu_arrays.upload(rotations),
            "world_scale": gpu_arrays.upload(scales),
            "world_dc": gpu_arrays.upload(dc),
        }

    def gpu_bytes(self) -> int:
        """Bytes of texture memory held (RGBA32F: 16 per texel, R32F / R32UI: 4)."""
        textures = [self.sh_rest, *self.world.values(), *self.splat.values()]
        if self.is_bound:
            textures += [
                self.faces, self.binding, self.local_rotation, self.local_scale, self.sh_dc,
                self.basis, self.shading, self.frame_origin, self.frame_rotation,
            ]  # fmt: skip
        total = sum(int(t.width) * int(t.height) * 16 for t in textures)
        s = self.sorter
        total += 4 * s.width * s.rows * 4 + 2 * s.rows * 16 * 4
        return total
