"""Numpy arrays <-> RGBA32F textures laid out as the engine's shaders expect.

Item i of an array with T texels per item lives at texels i*T .. i*T+T-1, and texel j of the
texture sits at (j % TEXTURE_WIDTH, j // TEXTURE_WIDTH). Indices travel as float values (exact
below 2^24), because the Python gpu API only uploads float data.
"""

from __future__ import annotations

import numpy as np

from .api import Texture, read_texture, texture

TEXTURE_WIDTH = 4096

GLSL = f"""
ivec2 texel_coord(int index)
{{
  return ivec2(index % {TEXTURE_WIDTH}, index / {TEXTURE_WIDTH});
}}
"""

MAX_INDEX = 1 << 24


class GpuLimitError(ValueError):
    """Data that does not fit the GPU's largest texture; the message says what to reduce."""


def max_rows() -> int:
    from .api import gpu

    return int(gpu.capabilities.max_texture_size_get())


def texture_size(num_texels: int) -> tuple[int, int]:
    rows = max(1, -(-int(num_texels) // TEXTURE_WIDTH))
    limit = max_rows()
    if rows > limit:
        raise GpuLimitError(
            f"{num_texels:,} texels need a {TEXTURE_WIDTH}x{rows} texture, larger than this GPU's "
            f"{limit}x{limit}: use fewer Gaussians, a lower SH degree or fewer dynamics components"
        )
    return TEXTURE_WIDTH, rows


def pack(values: np.ndarray, texels_per_item: int = 1) -> np.ndarray:
    """Flattens (N, ...) values into RGBA texels (float32), zero-padded to whole texture rows."""
    values = np.asarray(values, dtype=np.float32)
    items = values.reshape(len(values), int(np.prod(values.shape[1:], dtype=np.int64)))
    width = 4 * texels_per_item
    if items.shape[1] > width:
        raise ValueError(f"{items.shape[1]} values per item do not fit {texels_per_item} texels")
    w, rows = texture_size(len(items) * texels_per_item)
    out = np.zeros(w * rows * 4, dtype=np.float32)
    out[: len(items) * width].reshape(len(items), width)[:, : items.shape[1]] = items
    return out


def upload(values: np.ndarray, texels_per_item: int = 1) -> Texture:
    """A new RGBA32F texture holding values (N, <= 4*texels_per_item)."""
    flat = pack(values, texels_per_item)
    return texture(texture_size(len(flat) // 4), "RGBA32F", flat)


def empty(num_texels: int, fmt: str = "RGBA32F") -> Texture:
    return texture(texture_size(num_texels), fmt)


def read(tex: Texture, channels: int = 4) -> np.ndarray:
    """The texels as a flat array (float32, or uint32 for integer formats), row 0 first."""
    return read_texture(tex, channels)


def upload_scalars(values: np.ndarray, fill: float = 0.0) -> Texture:
    """A new R32F texture holding values (N,), padded with fill to whole rows."""
    w, rows = texture_size(len(values))
    flat = np.full(w * rows, fill, dtype=np.float32)
    flat[: len(values)] = values
    return texture((w, rows), "R32F", flat)
