"""The built-in 4D dataset's bpy-free plan: a small toy scene in motion (a bouncing ball that
squashes on landing, a cube spinning on an orbit, a swinging arm), cameras on two rings around it,
and which (camera, time) pairs are training, held-out-view (val) and held-out-time (test) images.

The objects move in Blender's world (Z up, metres); the dataset's world is the project's Y-up
dataset space (docs/DESIGN.md: Blender (x, y, z) is dataset (x, z, -y)), so the dataset import
and the 4D sequence import place everything back where it was rendered. Cameras: the canonical
OpenCV convention with the principal point at the image centre, as the D-NeRF format assumes (one
``camera_angle_x`` for every image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..datasets.camera import Camera, intrinsics, look_at

Y_UP = (0.0, 1.0, 0.0)
CENTRE = np.array([0.0, 0.0, 0.55])  # Blender world
DISTANCE = 2.5
FIELD_OF_VIEW = math.radians(40.0)  # camera_angle_x


@dataclass(frozen=True)
class DynamicRecipe:
    """Everything that decides the pixels and the splits of the 4D dataset."""

    cameras: int  # training cameras (the held-out camera is one more)
    resolution: int
    frames: int  # times 0 .. frames-1, time = frame / (frames - 1)
    test_every: int  # every test_every-th frame (offset by half) is a held-out time
    test_cameras: int  # training cameras that also render the held-out times
    samples: int
    seed: int = 0
    generator_version: int = 1


@dataclass(frozen=True)
class ObjectState:
    location: tuple[float, float, float]
    rotation: tuple[float, float, float]  # XYZ Euler, radians
    scale: tuple[float, float, float]


def frame_time(frame: int, frames: int) -> float:
    return frame / max(1, frames - 1)


def held_out_frames(frames: int, every: int) -> list[int]:
    """Frames never trained on: every ``every``-th, starting half a period in (never the first or
    last frame, so held-out times are interpolations)."""
    if every <= 1:
        return []
    return [f for f in range(every // 2, frames - 1, every) if f > 0]


def scene_state(time: float) -> dict[str, ObjectState]:
    """Where each object is at ``time`` in [0, 1]. Two bounces of the ball, one turn of the cube's
    orbit, two swings of the arm: every object moves all the time, each differently."""
    # Ball: |sin| bounces, squashed along z near the ground and stretched in flight.
    phase = (2.0 * time) % 1.0
    height = 0.18 + 0.75 * math.sin(math.pi * phase)
    squash = 1.0 - 0.35 * math.exp(-(((height - 0.18) / 0.06) ** 2))
    ball = ObjectState((0.55, -0.35, height), (0.0, 0.0, 0.0), (1.0 / math.sqrt(squash),) * 2 + (squash,))
    # Cube: orbits the centre once while spinning twice about its own tilted axis.
    angle = 2.0 * math.pi * time
    cube = ObjectState(
        (-0.45 * math.cos(angle), 0.45 * math.sin(angle), 0.35),
        (0.4, 0.3, 4.0 * math.pi * time),
        (1.0, 1.0, 1.0),
    )
    # Arm: a bar hinged at its top end, swinging about the x axis.
    swing = 0.9 * math.sin(4.0 * math.pi * time)
    arm = ObjectState((0.0, 0.0, 1.0), (swing, 0.0, 0.0), (1.0, 1.0, 1.0))
    return {"ball": ball, "cube": cube, "arm": arm}


def _camera(name: str, azimuth: float, elevation: float, resolution: int) -> Camera:
    a, e = math.radians(azimuth), math.radians(elevation)
    eye = CENTRE + DISTANCE * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    focal = 0.5 * resolution / math.tan(0.5 * FIELD_OF_VIEW)
    k = intrinsics(focal, focal, (resolution - 1) / 2.0, (resolution - 1) / 2.0)
    return Camera(name, look_at(to_dataset(eye), to_dataset(CENTRE), up=Y_UP), k, resolution, resolution)


def to_dataset(point_blender: np.ndarray) -> np.ndarray:
    """Blender world (Z up) -> the dataset's Y-up world."""
    x, y, z = np.asarray(point_blender, dtype=np.float64)
    return np.array([x, z, -y])


def ring_cameras(count: int, resolution: int, seed: int) -> tuple[list[Camera], Camera]:
    """``count`` training cameras alternating between a low and a high ring all around, and one
    held-out camera between two of them (a view no training camera shares)."""
    rng = np.random.default_rng(seed)
    train = []
    for i in range(count):
        azimuth = 360.0 * i / count + float(rng.uniform(-6.0, 6.0))
        elevation = (12.0 if i % 2 == 0 else 38.0) + float(rng.uniform(-3.0, 3.0))
        train.append(_camera(f"cam{i:02d}", azimuth, elevation, resolution))
    held_out = _camera("held_out", 180.0 / count + 360.0 / count, 25.0, resolution)
    return train, held_out
