"""Render passes computed from the depth and normal images: Blender's Mist and world normals."""

from __future__ import annotations

import numpy as np

# Blender's mist falloff names -> the exponent applied to the linear mist (as Cycles does).
MIST_FALLOFF = {"QUADRATIC": 2.0, "LINEAR": 1.0, "INVERSE_QUADRATIC": 0.5}


def ray_distance(depth: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Distance from the camera centre of each pixel's point at depth (along the view axis);
    depth (H, W) rows in image order (row 0 at the top), k the 3x3 intrinsics (pixel centres at
    integers)."""
    h, w = depth.shape
    xs = (np.arange(w) - k[0, 2]) / k[0, 0]
    ys = (np.arange(h) - k[1, 2]) / k[1, 1]
    stretch = np.sqrt(1.0 + xs[None, :] ** 2 + ys[:, None] ** 2)
    return depth * stretch


def mist(distance: np.ndarray, coverage: np.ndarray, start: float, depth: float, falloff: str) -> np.ndarray:
    """Blender's Mist pass: 0 at start, 1 at start + depth and beyond (and where nothing covers
    the pixel); coverage (0..1) blends a partly covered pixel with the background's 1."""
    linear = np.clip((distance - start) / max(depth, 1e-9), 0.0, 1.0)
    shaped = linear ** MIST_FALLOFF[falloff]
    coverage = np.clip(coverage, 0.0, 1.0)
    return coverage * shaped + (1.0 - coverage)


def camera_to_world_normals(normals: np.ndarray, world_to_camera: np.ndarray) -> np.ndarray:
    """(..., 3) normals in camera axes -> world axes (zero vectors stay zero)."""
    rotation = np.asarray(world_to_camera, dtype=np.float64)[:3, :3]
    world = normals @ rotation  # rotation^T applied to row vectors
    length = np.linalg.norm(world, axis=-1, keepdims=True)
    return np.where(length > 1e-12, world / np.maximum(length, 1e-12), 0.0)


def vector_pass(previous: np.ndarray, current: np.ndarray, following: np.ndarray) -> np.ndarray:
    """Blender's Vector pass value of each item from its pixel positions (N, 4: x, y with rows
    top-down, depth, opacity; opacity 0 = not visible) at the previous, current and next frame:
    (prev - now, now - next) with y up, as Cycles writes it; 0 where any of the three is culled."""
    visible = (previous[:, 3] > 0.0) & (current[:, 3] > 0.0) & (following[:, 3] > 0.0)
    flip = np.array([1.0, -1.0])  # rows top-down -> y up
    values = np.concatenate(
        [(previous[:, :2] - current[:, :2]) * flip, (current[:, :2] - following[:, :2]) * flip], axis=1
    )
    return np.where(visible[:, None], values, 0.0).astype(np.float32)
