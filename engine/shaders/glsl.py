"""GLSL snippets the programs share: quaternions (w,x,y,z in a vec4) and texel addressing."""

from __future__ import annotations

from ...core import colour
from ..gpu import arrays as gpu_arrays

QUATERNION = """
vec4 quat_mul(vec4 a, vec4 b)
{
  return vec4(a.x * b.x - a.y * b.y - a.z * b.z - a.w * b.w,
              a.x * b.y + a.y * b.x + a.z * b.w - a.w * b.z,
              a.x * b.z - a.y * b.w + a.z * b.x + a.w * b.y,
              a.x * b.w + a.y * b.z - a.z * b.y + a.w * b.x);
}
mat3 quat_to_mat3(vec4 q)
{
  float w = q.x, x = q.y, y = q.z, z = q.w;
  /* Columns. */
  return mat3(1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y),
              2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x),
              2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y));
}
vec4 mat3_to_quat(mat3 m)
{
  /* m[c][r]: column c, row r. Shepperd's method, largest pivot first. */
  float trace = m[0][0] + m[1][1] + m[2][2];
  vec4 q;
  if (trace > 0.0) {
    float s = sqrt(trace + 1.0) * 2.0;
    q = vec4(0.25 * s, (m[1][2] - m[2][1]) / s, (m[2][0] - m[0][2]) / s, (m[0][1] - m[1][0]) / s);
  }
  else if (m[0][0] > m[1][1] && m[0][0] > m[2][2]) {
    float s = sqrt(1.0 + m[0][0] - m[1][1] - m[2][2]) * 2.0;
    q = vec4((m[1][2] - m[2][1]) / s, 0.25 * s, (m[1][0] + m[0][1]) / s, (m[2][0] + m[0][2]) / s);
  }
  else if (m[1][1] > m[2][2]) {
    float s = sqrt(1.0 + m[1][1] - m[0][0] - m[2][2]) * 2.0;
    q = vec4((m[2][0] - m[0][2]) / s, (m[1][0] + m[0][1]) / s, 0.25 * s, (m[2][1] + m[1][2]) / s);
  }
  else {
    float s = sqrt(1.0 + m[2][2] - m[0][0] - m[1][1]) * 2.0;
    q = vec4((m[0][1] - m[1][0]) / s, (m[2][0] + m[0][2]) / s, (m[2][1] + m[1][2]) / s, 0.25 * s);
  }
  return q;
}
"""

TEXEL = gpu_arrays.GLSL
SRGB = colour.GLSL
