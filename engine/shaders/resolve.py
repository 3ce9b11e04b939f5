"""Vertex + fragment: the composited image (premultiplied display values) -> Blender's buffers.

Colour: un-premultiply, sRGB -> scene linear, premultiply again (so a straight-alpha PNG written
with the Standard view transform shows the composited display values). Depth: the expected depth
sum(w_i z_i) / sum(w_i), or ``background_depth`` where nothing was drawn; beside it the weighted
object index and the coverage sum(w_i). Normal: the normalised weighted normal (camera axes).
Vector: the weighted motion.
"""

from __future__ import annotations

from ..gpu.api import Shader, create_shader, shader_info
from . import glsl

VERTEX = """
void main()
{
  gl_Position = vec4(position, 0.0, 1.0);
}
"""

FRAGMENT = """
void main()
{
  ivec2 p = ivec2(gl_FragCoord.xy);
  vec4 c = texelFetch(composited, p, 0);
  vec3 linear = c.a > 0.0 ? srgb_to_linear(c.rgb / c.a) * c.a : vec3(0.0);
  out_color = vec4(linear, c.a);
  vec4 d = texelFetch(depth_sum, p, 0);
  out_depth = vec4(d.a > 1e-6 ? d.r / d.a : background_depth, d.a > 1e-6 ? d.g / d.a : 0.0, d.a, 1.0);
  vec4 m = texelFetch(motion_sum, p, 0);
  vec4 n = texelFetch(normal_sum, p, 0);
  out_normal = vec4(n.a > 1e-6 && length(n.rgb) > 0.0 ? normalize(n.rgb) : vec3(0.0), n.a);
  out_vector = d.a > 1e-6 ? vec4(m.xyz, d.b) / d.a : vec4(0.0);
}
"""


def build() -> Shader:
    info = shader_info()
    info.sampler(0, "FLOAT_2D", "composited")
    info.sampler(1, "FLOAT_2D", "depth_sum")
    info.sampler(2, "FLOAT_2D", "normal_sum")
    info.sampler(3, "FLOAT_2D", "motion_sum")
    info.vertex_in(0, "VEC2", "position")
    info.push_constant("FLOAT", "background_depth")
    info.fragment_out(0, "VEC4", "out_color")
    info.fragment_out(1, "VEC4", "out_depth")
    info.fragment_out(2, "VEC4", "out_normal")
    info.fragment_out(3, "VEC4", "out_vector")
    info.vertex_source(VERTEX)
    info.fragment_source(glsl.SRGB + FRAGMENT)
    return create_shader(info)
