"""Deformation on the GPU: upload the driver mesh's evaluated vertices (the only per-frame
upload), build every face frame, and place every Gaussian (compute shaders writing images)."""

from __future__ import annotations

import numpy as np
from mathutils import Matrix

from .. import shaders as shader_cache
from ..shaders import bind, face_frames
from . import arrays as gpu_arrays
from .api import Texture, dispatch
from .splat_buffers import SplatGpuData

STATIC_INPUTS = (
    "binding",
    "local_rotation",
    "local_scale",
    "sh_dc",
    "frame_origin",
    "frame_rotation",
    "basis",
    "shading",
)


def weights_texture(z: np.ndarray) -> Texture:
    """The dynamics weights z (K,) packed four to a texel."""
    k = max(1, len(z))
    padded = np.zeros(-(-k // 4) * 4, dtype=np.float32)
    padded[: len(z)] = z
    return gpu_arrays.upload(padded.reshape(-1, 4))


def deform(
    data: SplatGpuData,
    vertices: np.ndarray,
    z: np.ndarray | None,
    *,
    shading_scale: float = 1.0,
    shading_rotation: np.ndarray | None = None,
) -> None:
    """Writes data.world from the driver mesh's vertices (V,3) and dynamics weights z (K,); the
    normal shading's colour change (when the avatar has it) is scaled by ``shading_scale`` (0: off),
    its key light turned by ``shading_rotation`` (3, 3; None: as captured)."""
    vertex_texture = gpu_arrays.upload(np.asarray(vertices, dtype=np.float32))
    frames = shader_cache.get(face_frames)
    frames.bind()
    frames.uniform_int("num_faces", data.num_faces)
    frames.uniform_sampler("vertices", vertex_texture)
    frames.uniform_sampler("faces", data.faces)
    frames.image("frame_origin", data.frame_origin)
    frames.image("frame_rotation", data.frame_rotation)
    dispatch(frames, -(-data.num_faces // face_frames.LOCAL_SIZE))

    rank = data.rank if z is not None else 0
    weights = weights_texture(z if z is not None and rank else np.zeros(1, np.float32))
    shader = shader_cache.get(bind)
    shader.bind()
    shader.uniform_int("count", data.count)
    shader.uniform_int("rank", rank)
    shader.uniform_float("shading_scale", float(shading_scale) if data.has_shading else 0.0)
    turn = np.eye(4)
    if shading_rotation is not None:
        turn[:3, :3] = shading_rotation
    shader.uniform_float("shading_rotation", Matrix(turn.tolist()))
    for name in STATIC_INPUTS:
        shader.uniform_sampler(name, getattr(data, name))
    shader.uniform_sampler("weights", weights)
    for name, texture in data.world.items():
        shader.image(name, texture)
    dispatch(shader, -(-data.count // bind.LOCAL_SIZE))
