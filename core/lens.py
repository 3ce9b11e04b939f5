"""Depth of field and motion blur by sampling: thin-lens aperture points, shutter times, and the
camera seen from a point of the aperture.

A thin lens of aperture radius R focused at distance F images a point at depth z as a disc of
radius fx * R * |1/F - 1/z| pixels (the circle of confusion). Rendering pinhole images from N
points spread evenly over the aperture, each camera shifted so the focus plane stays put, and
averaging them, spreads each point over that disc. Motion blur averages N images at times spread
evenly over the shutter.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .cameras import ViewCamera

GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


def aperture_radius(lens_mm: float, fstop: float) -> float:
    """Blender's (and Cycles') aperture radius in scene units for a focal length and f-number."""
    return lens_mm * 1e-3 / (2.0 * max(fstop, 1e-5))


def aperture_points(count: int, radius: float, blades: int = 0, rotation: float = 0.0) -> np.ndarray:
    """(count, 2) points spread evenly over the aperture: a sunflower (equal area per point; mean
    squared radius R^2/2, as a uniform disc's); with 3 or more blades, each direction is scaled to
    the regular polygon inscribed in the disc."""
    k = np.arange(count, dtype=np.float64)
    rho = np.sqrt((k + 0.5) / count)
    theta = k * GOLDEN_ANGLE
    if blades >= 3:
        # Scale each direction to the polygon's edge: r(theta) = cos(pi/n) / cos(theta' - pi/n).
        sector = 2.0 * math.pi / blades
        local = np.mod(theta - rotation, sector)
        rho = rho * math.cos(math.pi / blades) / np.cos(local - math.pi / blades)
    return radius * np.stack([rho * np.cos(theta), rho * np.sin(theta)], axis=1)


def shutter_times(count: int, shutter: float, position: str) -> np.ndarray:
    """(count,) frame offsets spread evenly over a shutter of `shutter` frames that starts at the
    frame (START), is centred on it (CENTER) or ends at it (END)."""
    start = {"START": 0.0, "CENTER": -0.5 * shutter, "END": -shutter}[position]
    return start + shutter * (np.arange(count, dtype=np.float64) + 0.5) / count


def lens_camera(camera: ViewCamera, offset: np.ndarray, focus_distance: float) -> ViewCamera:
    """camera moved by offset (x, y in its own axes) on the aperture, its principal point shifted
    so that points at focus_distance project where they did."""
    dx, dy = float(offset[0]), float(offset[1])
    move = np.eye(4)
    move[0, 3], move[1, 3] = -dx, -dy
    return replace(
        camera,
        world_to_camera=move @ camera.world_to_camera,
        cx=camera.cx + camera.fx * dx / focus_distance,
        cy=camera.cy + camera.fy * dy / focus_distance,
    )


def circle_of_confusion(fx: float, radius: float, focus_distance: float, depth: float) -> float:
    """Radius in pixels of the disc a point at depth spreads to."""
    return fx * radius * abs(1.0 / focus_distance - 1.0 / depth)


def order_times(count: int) -> np.ndarray:
    """A permutation pairing aperture points with shutter times so that neither follows the other."""
    step = next(p for p in range(max(count // 2 + 1, 1), 2 * count + 2) if math.gcd(p, count) == 1)
    return (np.arange(count) * step) % max(count, 1)
