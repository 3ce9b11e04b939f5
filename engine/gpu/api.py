"""Loosely typed access to bpy's ``gpu`` module for the engine.

fake-bpy-module's stubs miss most constructor arguments of gpu.types (GPUTexture's format and
data, GPUFrameBuffer's slots, GPUBatch's type and buf...) and the whole gpu.compute module, so the
engine builds GPU objects through these helpers and types them as ``Any``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gpu as _gpu
import numpy as np

gpu: Any = _gpu

Texture = Any
Shader = Any
FrameBuffer = Any
Batch = Any


def texture(size: tuple[int, int], fmt: str, data: np.ndarray | None = None) -> Texture:
    """A 2D texture; data (float32, length width*height*channels) is copied in."""
    if data is None:
        return gpu.types.GPUTexture(size, format=fmt)
    flat = np.ascontiguousarray(data, dtype=np.float32).ravel()
    # Buffer wraps the numpy memory (no copy); the texture copies it.
    return gpu.types.GPUTexture(size, format=fmt, data=gpu.types.Buffer("FLOAT", len(flat), flat))


def framebuffer(color_slots: Sequence[Texture], depth_slot: Texture | None = None) -> FrameBuffer:
    if depth_slot is None:
        return gpu.types.GPUFrameBuffer(color_slots=tuple(color_slots))
    return gpu.types.GPUFrameBuffer(color_slots=tuple(color_slots), depth_slot=depth_slot)


def batch(primitive: str, attributes: dict[str, np.ndarray]) -> Batch:
    """A batch of float vertex attributes, each (N, components)."""
    fmt = gpu.types.GPUVertFormat()
    count = 0
    for name, values in attributes.items():
        fmt.attr_add(id=name, comp_type="F32", len=int(values.shape[1]), fetch_mode="FLOAT")
        count = len(values)
    vbo = gpu.types.GPUVertBuf(fmt, count)
    for name, values in attributes.items():
        vbo.attr_fill(name, np.ascontiguousarray(values, dtype=np.float32))
    return gpu.types.GPUBatch(type=primitive, buf=vbo)


def uniform_buffer(block: np.ndarray) -> Any:
    flat = np.ascontiguousarray(block, dtype=np.float32).ravel()
    return gpu.types.GPUUniformBuf(gpu.types.Buffer("FLOAT", len(flat), flat))


def shader_info() -> Any:
    return gpu.types.GPUShaderCreateInfo()


def stage_interface(name: str) -> Any:
    return gpu.types.GPUStageInterfaceInfo(name)


def create_shader(info: Any) -> Shader:
    return gpu.shader.create_from_info(info)


def dispatch(shader: Shader, groups_x: int, groups_y: int = 1, groups_z: int = 1) -> None:
    """Runs a compute shader; bpy adds an image/texture-fetch barrier after each dispatch."""
    gpu.compute.dispatch(shader, int(groups_x), int(groups_y), int(groups_z))


def compute_supported() -> bool:
    """Blender 4.4+ has compute shaders on every backend (the query is deprecated there)."""
    import bpy

    if bpy.app.version >= (4, 4, 0):
        return True
    return bool(gpu.capabilities.compute_shader_support_get())


def read_texture(tex: Texture, channels: int = 4) -> np.ndarray:
    """The texture's texels as a flat array (float32, or uint32 for integer formats), in texel
    order (row 0 first; for images drawn by OpenGL row 0 is the bottom one)."""
    buffer = tex.read()
    # Buffer reports its strides reversed (bpy 5.0); a flat view reads its memory in order.
    buffer.dimensions = int(tex.width) * int(tex.height) * channels
    return np.array(buffer, copy=True)


_sync_texture: Any = None


def finish() -> None:
    """Waits until the GPU has done everything issued so far (for timings): a 1-texel clear and
    read-back, which executes after every earlier command."""
    global _sync_texture
    if _sync_texture is None:
        _sync_texture = gpu.types.GPUTexture((1, 1), format="RGBA32F")
    _sync_texture.clear(format="FLOAT", value=(0.0, 0.0, 0.0, 0.0))
    _sync_texture.read()
