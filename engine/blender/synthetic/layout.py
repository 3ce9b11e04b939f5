"""Camera rigs around a subject (numpy, no bpy): two rings of cameras at different heights,
looking at the subject's centre, with slightly different focal lengths and principal points (as
real calibrations have), in the dataset's OpenCV convention."""

from __future__ import annotations

import math

import numpy as np

from ...datasets.camera import Camera, intrinsics, look_at


def ring_cameras(
    count: int,
    resolution: int,
    centre: np.ndarray,
    half_extent: float,
    distance: float,
    elevations: tuple[float, float],
    seed: int,
    jitter: bool = True,
) -> list[Camera]:
    """``count`` cameras: half on a low ring, half on a high ring offset by half a step, all
    framing a sphere of radius ``half_extent`` around ``centre``. Angles in degrees."""
    rng = np.random.default_rng([seed, 7])
    low = (count + 1) // 2
    high = count - low
    cams: list[Camera] = []
    for n, elevation, offset in ((low, elevations[0], 0.0), (high, elevations[1], 0.5)):
        for i in range(n):
            azimuth = 2 * math.pi * (i + offset) / n
            el = math.radians(elevation)
            d = distance * (1.0 + (rng.uniform(-0.03, 0.03) if jitter else 0.0))
            eye = centre + d * np.array(
                [math.cos(el) * math.sin(azimuth), math.sin(el), math.cos(el) * math.cos(azimuth)]
            )
            focal = 0.9 * 0.5 * resolution * d / half_extent  # 10 % margin around the sphere
            if jitter:
                focal *= 1.0 + rng.uniform(-0.02, 0.02)
            cx = (resolution - 1) / 2.0 + (rng.uniform(-4, 4) * resolution / 512 if jitter else 0.0)
            cy = (resolution - 1) / 2.0 + (rng.uniform(-4, 4) * resolution / 512 if jitter else 0.0)
            w2c = look_at(eye, centre)
            cams.append(
                Camera(f"cam{len(cams):02d}", w2c, intrinsics(focal, focal, cx, cy), resolution, resolution)
            )
    return cams


def frontal_camera(cameras: list[Camera], centre: np.ndarray, azimuth_deg: float = 20.0) -> int:
    """Index of the camera of the upper ring closest to ``azimuth_deg`` (the novel view held out
    for validation: near the face, between two training views)."""
    target = np.radians(azimuth_deg)
    best, best_err = 0, float("inf")
    heights = [c.center[1] for c in cameras]
    upper = np.median(heights)
    for i, cam in enumerate(cameras):
        rel = cam.center - centre
        if cam.center[1] < upper:
            continue
        az = math.atan2(rel[0], rel[2])
        err = abs((az - target + math.pi) % (2 * math.pi) - math.pi)
        if err < best_err:
            best, best_err = i, err
    return best
