"""Camera rigs around a subject (numpy, no bpy), in the dataset's OpenCV convention: two rings of
cameras at different heights all around it (as the body capture domes have), or rows of cameras on
a frontal arc (as NeRSemble's head rig has). All look at the subject's centre, with slightly
different distances, focal lengths and principal points, as real calibrations have."""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..datasets.camera import Camera, intrinsics, look_at


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
    low = (count + 1) // 2
    high = count - low
    directions = [
        (360.0 * (i + offset) / n, elevation)
        for n, elevation, offset in ((low, elevations[0], 0.0), (high, elevations[1], 0.5))
        for i in range(n)
    ]
    return _cameras(directions, resolution, centre, half_extent, distance, seed, jitter)


def arc_cameras(
    count: int,
    resolution: int,
    centre: np.ndarray,
    half_extent: float,
    distance: float,
    span: tuple[float, float],
    elevation: float,
    seed: int,
    jitter: bool = True,
) -> list[Camera]:
    """``count`` cameras in rows on a frontal arc ``span`` = (horizontal, vertical) degrees wide,
    centred on the subject's front (+z) at ``elevation`` degrees: one row below 6 cameras, two
    below 9, else three, each row spread over the whole horizontal span, extra cameras in the top
    rows. NeRSemble's head rig is 16 cameras on a 93 x 32 degree arc."""
    rows = 1 if count < 6 else (2 if count < 9 else 3)
    per_row = [count // rows + (1 if r < count % rows else 0) for r in range(rows)]
    directions = []
    for r, n in enumerate(per_row):  # top row first
        el = elevation + (span[1] * (0.5 - r / (rows - 1)) if rows > 1 else 0.0)
        directions += [(span[0] * ((i / (n - 1) if n > 1 else 0.5) - 0.5), el) for i in range(n)]
    return _cameras(directions, resolution, centre, half_extent, distance, seed, jitter)


def _cameras(
    directions: list[tuple[float, float]],
    resolution: int,
    centre: np.ndarray,
    half_extent: float,
    distance: float,
    seed: int,
    jitter: bool,
) -> list[Camera]:
    """One camera per (azimuth, elevation) in degrees, framing a sphere of radius ``half_extent``."""
    rng = np.random.default_rng([seed, 7])
    cams: list[Camera] = []
    for azimuth_deg, elevation_deg in directions:
        az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
        d = distance * (1.0 + (rng.uniform(-0.03, 0.03) if jitter else 0.0))
        eye = centre + d * np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
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


def central_camera(cameras: list[Camera], centre: np.ndarray, elevation_deg: float) -> int:
    """Index of the camera looking most nearly along the arc's centre line (the novel view held out
    for validation, surrounded by training views, as GaussianAvatars holds out a frontal camera)."""
    el = math.radians(elevation_deg)
    axis = np.array([0.0, math.sin(el), math.cos(el)])
    cosines = [float(np.dot(axis, (c.center - centre) / np.linalg.norm(c.center - centre))) for c in cameras]
    return int(np.argmax(cosines))


def held_out_cameras(
    cameras: list[Camera], centre: np.ndarray, elevation_deg: float, count: int
) -> list[int]:
    """Indices of ``count`` cameras to hold out for validation on an arc: each sits inside its row
    (training cameras on both sides, never at a row's end), no two are neighbours (closer than 1.5
    times the rig's median nearest-camera angle), and together they are as near the arc's centre
    line as that allows. Several such views measure novel-view generalisation between training
    views more fairly than the one central camera does."""
    if count < 1:
        return []
    unit = np.array([(c.center - centre) / np.linalg.norm(c.center - centre) for c in cameras])
    angle = np.degrees(np.arccos(np.clip(unit @ unit.T, -1.0, 1.0)))
    nearest = np.sort(angle, axis=1)[:, 1]
    close = float(np.median(nearest)) * 1.5
    el = np.round(np.degrees(np.arcsin(np.clip(unit[:, 1], -1.0, 1.0))), 6)
    az = np.degrees(np.arctan2(unit[:, 0], unit[:, 2]))
    interior = [
        i for i in range(len(cameras)) if az[i] > az[el == el[i]].min() and az[i] < az[el == el[i]].max()
    ]
    e = math.radians(elevation_deg)
    axis = np.array([0.0, math.sin(e), math.cos(e)])
    off_axis = np.degrees(np.arccos(np.clip(unit @ axis, -1.0, 1.0)))
    best: tuple[float, tuple[int, ...]] | None = None
    for combo in itertools.combinations(interior, count):
        if any(angle[a, b] < close for a, b in itertools.combinations(combo, 2)):
            continue
        score = (float(off_axis[list(combo)].sum()), combo)
        best = score if best is None or score < best else best
    if best is None:
        raise ValueError(f"{len(cameras)} cameras leave no {count} interior, non-adjacent views to hold out")
    return sorted(best[1])
