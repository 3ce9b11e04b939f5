"""`GaussianSet`: a set of 3D Gaussians in the stored (pre-activation) 3DGS parameterisation.

Means in world (or model) units, rotations as unnormalised quaternions (w, x, y, z), scales as
natural logarithms, opacities as logits, colour as spherical-harmonic coefficients
(N, (degree+1)^2, 3) whose first coefficient is the DC term (rgb = C0 * dc + 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SH_C0 = 0.28209479177387814  # Y_0^0 = 1 / (2 sqrt(pi))


def sh_degree_for_coefficients(count: int) -> int:
    """Number of SH coefficients per channel (1, 4, 9, 16) -> degree (0-3); ValueError otherwise."""
    for degree in range(4):
        if (degree + 1) ** 2 == count:
            return degree
    raise ValueError(f"{count} SH coefficients per channel is not (degree+1)^2 for a degree 0-3")


def rgb_to_sh_dc(rgb: np.ndarray) -> np.ndarray:
    """Display colour in [0,1] -> the DC coefficient that renders it (view-independent)."""
    return (np.asarray(rgb) - 0.5) / SH_C0


def sh_dc_to_rgb(dc: np.ndarray) -> np.ndarray:
    """The DC coefficient -> its view-independent colour (unclamped)."""
    return np.asarray(dc) * SH_C0 + 0.5


@dataclass(eq=False)
class GaussianSet:
    means: np.ndarray  # (N,3)
    quats: np.ndarray  # (N,4) w,x,y,z, not necessarily unit
    log_scales: np.ndarray  # (N,3)
    opacity_logits: np.ndarray  # (N,)
    sh: np.ndarray  # (N,K,3), K = (degree+1)^2

    def __post_init__(self) -> None:
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        expected = {
            "means": (n, 3),
            "quats": (n, 4),
            "log_scales": (n, 3),
            "opacity_logits": (n,),
        }
        for name, shape in expected.items():
            value = getattr(self, name)
            if value.shape != shape or n < 0:
                raise ValueError(f"GaussianSet.{name} has shape {value.shape}, expected {shape}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"GaussianSet.sh has shape {self.sh.shape}, expected ({n}, K, 3)")
        sh_degree_for_coefficients(self.sh.shape[1])

    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        return sh_degree_for_coefficients(self.sh.shape[1])

    def fields(self) -> dict[str, np.ndarray]:
        return {
            "means": self.means,
            "quats": self.quats,
            "log_scales": self.log_scales,
            "opacity_logits": self.opacity_logits,
            "sh": self.sh,
        }

    def nonfinite_report(self) -> str | None:
        """None when every value is finite, else one sentence naming the fields and a first index."""
        problems = []
        if len(self) == 0:
            return None
        for name, value in self.fields().items():
            bad = ~np.isfinite(value.reshape(len(self), -1)).all(axis=1)
            count = int(np.count_nonzero(bad))
            if count:
                problems.append(f"{name} ({count} Gaussians, first #{int(np.argmax(bad))})")
        if not problems:
            return None
        return "NaN or infinite values in " + ", ".join(problems)

    def subset(self, index: np.ndarray | slice) -> GaussianSet:
        return GaussianSet(**{name: value[index] for name, value in self.fields().items()})

    def astype(self, dtype: np.dtype | type) -> GaussianSet:
        return GaussianSet(**{name: value.astype(dtype) for name, value in self.fields().items()})

    def with_sh_degree(self, degree: int) -> GaussianSet:
        """Truncate or zero-pad the SH bands to ``degree``."""
        k = (degree + 1) ** 2
        sh = np.zeros((len(self), k, 3), dtype=self.sh.dtype)
        keep = min(k, self.sh.shape[1])
        sh[:, :keep] = self.sh[:, :keep]
        fields = self.fields()
        fields["sh"] = sh
        return GaussianSet(**fields)
