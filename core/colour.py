"""The sRGB transfer functions (IEC 61966-2-1), numpy and GLSL twins.

3DGS colours are display (sRGB-encoded) values and composite in that space; Blender's render
buffers are scene-linear. The engine composites in sRGB and converts the result once, so that with
the Standard view transform Blender's output encodes the composited values back exactly.
"""

from __future__ import annotations

import numpy as np


def srgb_to_linear(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.maximum(v, 0.0031308) ** (1.0 / 2.4) - 0.055)


GLSL = """
float srgb_to_linear(float v)
{
  return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}
vec3 srgb_to_linear(vec3 c)
{
  return vec3(srgb_to_linear(c.r), srgb_to_linear(c.g), srgb_to_linear(c.b));
}
float linear_to_srgb(float v)
{
  return v <= 0.0031308 ? v * 12.92 : 1.055 * pow(v, 1.0 / 2.4) - 0.055;
}
vec3 linear_to_srgb(vec3 c)
{
  return vec3(linear_to_srgb(c.r), linear_to_srgb(c.g), linear_to_srgb(c.b));
}
"""
