"""Depth sort of the splats: a stable LSD radix sort on the GPU, and the numpy twin.

Both sort ascending by depth (near to far), ties in index order. The GPU sort works on R32F
images of whole texture rows: 8 passes of one 4-bit digit of the float's bits (depths are
non-negative, so their bit patterns order like the values; culled splats carry +inf).
Each pass: per-block histograms, one scan over (digit, block), a stable scatter.
"""

from __future__ import annotations

import numpy as np

from . import shaders as shader_cache
from .gpu import arrays as gpu_arrays
from .gpu.api import dispatch, texture
from .shaders import radix_count, radix_scan, radix_scatter

DIGIT_BITS = 4
PASSES = 32 // DIGIT_BITS


def sort_order_cpu(depths: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Indices near to far (stable), culled ones (valid False) last, as float32 for upload."""
    keys = np.asarray(depths, dtype=np.float32).copy()
    if valid is not None:
        keys[~valid] = np.inf
    return np.argsort(keys, kind="stable").astype(np.float32)


class GpuRadixSort:
    """Sorts (keys, values) R32F images in place; keys and values textures of ``capacity`` texels.

    The caller writes keys (non-negative floats, +inf for culled) and values into ``keys`` and
    ``values``; after ``run()`` they hold the sorted pairs. Texels past the caller's count must
    hold +inf keys; ``reset_padding()`` does that once after allocation.
    """

    def __init__(self, count: int) -> None:
        self.count = int(count)
        self.width, self.rows = gpu_arrays.texture_size(self.count)
        if self.width != radix_count.BLOCK:
            raise ValueError("the radix sort expects one block of keys per texture row")
        size = (self.width, self.rows)
        self.keys = texture(size, "R32F")
        self.values = texture(size, "R32F")
        self._keys_b = texture(size, "R32F")
        self._values_b = texture(size, "R32F")
        self._histogram = texture((self.rows, 16), "R32UI")
        self._offsets = texture((self.rows, 16), "R32UI")
        self.reset_padding()

    def reset_padding(self) -> None:
        for keys in (self.keys, self._keys_b):
            keys.clear(format="FLOAT", value=(float("inf"),))
        for values in (self.values, self._values_b):
            values.clear(format="FLOAT", value=(0.0,))

    def run(self) -> None:
        count_shader = shader_cache.get(radix_count)
        scan_shader = shader_cache.get(radix_scan)
        scatter_shader = shader_cache.get(radix_scatter)
        src = (self.keys, self.values)
        dst = (self._keys_b, self._values_b)
        for p in range(PASSES):
            shift = p * DIGIT_BITS
            count_shader.bind()
            count_shader.uniform_int("shift", shift)
            count_shader.image("keys", src[0])
            count_shader.image("histogram", self._histogram)
            dispatch(count_shader, self.rows)
            scan_shader.bind()
            scan_shader.uniform_int("num_blocks", self.rows)
            scan_shader.image("histogram", self._histogram)
            scan_shader.image("offsets", self._offsets)
            dispatch(scan_shader, 1)
            scatter_shader.bind()
            scatter_shader.uniform_int("shift", shift)
            scatter_shader.image("keys_in", src[0])
            scatter_shader.image("values_in", src[1])
            scatter_shader.image("keys_out", dst[0])
            scatter_shader.image("values_out", dst[1])
            scatter_shader.image("offsets", self._offsets)
            dispatch(scatter_shader, self.rows)
            src, dst = dst, src
        # An even number of passes leaves the result in self.keys / self.values.
        assert src[0] is self.keys
