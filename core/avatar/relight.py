"""The avatar under a scene light, as an exposure and tint (an approximation of relighting).

A trained avatar's colours hold the capture's lighting baked in. Following a light, each
Gaussian's scene-linear colour is multiplied by

    tint = 1 + influence * (light colour * strength / reference strength - 1)

so doubling the light's strength doubles the avatar's linear colour and a coloured light tints it.
What is physically based: the scaling is linear in scene-linear values, as light adds up. What is
not: the light's direction, distance (falloff), size and shadows on the avatar play no part;
the avatar does not receive bounce light or shadows from the set; the reference strength is a
choice (the light's strength at which the avatar looks as trained), not a measurement.
"""

from __future__ import annotations

import numpy as np


def exposure_tint(
    light_colour: tuple[float, float, float] | np.ndarray,
    strength: float,
    reference_strength: float,
    influence: float = 1.0,
) -> tuple[float, float, float]:
    """The linear RGB multiplier of the avatar's colours; (1, 1, 1) when the light is as at reference."""
    if reference_strength <= 0.0:
        raise ValueError("the reference strength of the light must be positive")
    ratio = np.asarray(light_colour, dtype=np.float64)[:3] * (float(strength) / float(reference_strength))
    tint = np.maximum(1.0 + float(influence) * (ratio - 1.0), 0.0)
    return (float(tint[0]), float(tint[1]), float(tint[2]))
