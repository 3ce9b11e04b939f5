"""The avatar under a scene light, as an exposure and tint (an approximation of relighting).

A trained avatar's colours hold the capture's lighting baked in. Following a light, each
Gaussian's scene-linear colour is multiplied by

    tint = 1 + influence * (light colour * strength / reference strength - 1)

so doubling the light's strength doubles the avatar's linear colour and a coloured light tints it.
Its direction: an avatar trained with normal shading (core/avatar/shading.py) learned how its
colour changes as faces turn in the capture's fixed lighting. Turning the light by R relative to
the avatar is taken as turning every face normal by R^T in that lighting: the shading is
evaluated with R^T n (``rotation_between`` of the light's direction when picked and now, both in
the driver mesh's space). Exact only if the capture's light turned with the key light and the
learned linear shading held; a guess beyond that.

What is physically based: the scaling is linear in scene-linear values, as light adds up. What is
not: the light's distance (falloff), size and shadows on the avatar play no part;
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


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation (3, 3) taking direction a to direction b."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    axis = np.cross(a, b)
    sin, cos = float(np.linalg.norm(axis)), float(np.dot(a, b))
    if sin < 1e-12:
        if cos > 0.0:
            return np.eye(3)
        # Opposite: half a turn about any axis perpendicular to a.
        helper = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        axis = np.cross(a, helper)
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    k = axis / sin
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + sin * cross + (1.0 - cos) * cross @ cross
