"""Small synthetic meshes, bindings and dynamics for the avatar tests (no licensed data)."""

from __future__ import annotations

import numpy as np

from engine.avatar.binding import DYN_CHANNELS, Binding, Dynamics
from engine.avatar.gaussians import GaussianSet


def bumpy_sphere(
    rng: np.random.Generator, rings: int = 8, segments: int = 12
) -> tuple[np.ndarray, np.ndarray]:
    """A closed, randomly perturbed UV sphere: (V,3) float64 vertices, (F,3) int32 faces."""
    verts = [(0.0, 0.0, 1.0)]
    for i in range(1, rings):
        theta = np.pi * i / rings
        for j in range(segments):
            phi = 2 * np.pi * j / segments
            verts.append((np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)))
    verts.append((0.0, 0.0, -1.0))
    v = np.array(verts) * (1.0 + 0.15 * rng.random((len(verts), 1)))
    faces = []
    for j in range(segments):
        faces.append((0, 1 + j, 1 + (j + 1) % segments))
    for i in range(rings - 2):
        row, nxt = 1 + i * segments, 1 + (i + 1) * segments
        for j in range(segments):
            a, b = row + j, row + (j + 1) % segments
            c, d = nxt + j, nxt + (j + 1) % segments
            faces += [(a, c, b), (b, c, d)]
    last = 1 + (rings - 2) * segments
    south = len(verts) - 1
    for j in range(segments):
        faces.append((last + j, south, last + (j + 1) % segments))
    return v, np.array(faces, dtype=np.int32)


def random_binding(rng: np.random.Generator, num_gaussians: int, num_faces: int, dtype=np.float64) -> Binding:
    return Binding(
        parent_face=rng.integers(0, num_faces, num_gaussians).astype(np.int32),
        offset=rng.normal(0.0, 0.3, (num_gaussians, 3)).astype(dtype),
        rotation=rng.normal(size=(num_gaussians, 4)).astype(dtype),
        log_scale=rng.normal(-1.0, 0.3, (num_gaussians, 3)).astype(dtype),
    )


def random_dynamics(
    rng: np.random.Generator, num_gaussians: int, rank: int = 4, num_expression: int = 5, num_pose: int = 9,
    dtype=np.float64,
) -> Dynamics:  # fmt: skip
    return Dynamics(
        basis=rng.normal(0.0, 0.05, (num_gaussians, rank, DYN_CHANNELS)).astype(dtype),
        mix=rng.normal(0.0, 1.0, (rank, num_expression + num_pose)).astype(dtype),
        num_expression=num_expression,
        num_pose_features=num_pose,
    )


def random_appearance(
    rng: np.random.Generator, num_gaussians: int, degree: int = 1, dtype=np.float64
) -> GaussianSet:
    return GaussianSet(
        means=rng.normal(size=(num_gaussians, 3)).astype(dtype),
        quats=rng.normal(size=(num_gaussians, 4)).astype(dtype),
        log_scales=rng.normal(-3.0, 0.5, (num_gaussians, 3)).astype(dtype),
        opacity_logits=rng.normal(size=num_gaussians).astype(dtype),
        sh=rng.normal(0.0, 0.5, (num_gaussians, (degree + 1) ** 2, 3)).astype(dtype),
    )
