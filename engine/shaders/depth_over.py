"""Vertex + fragment: an image with depth drawn over a bound framebuffer that has its own depth
(the avatar over a Cycles/EEVEE viewport): each pixel's view depth becomes gl_FragDepth through
the viewport's projection, so the depth test hides the avatar behind nearer scene surfaces;
premultiplied colour, pixels the image does not cover are discarded."""

from __future__ import annotations

from ..gpu.api import Shader, create_shader, shader_info

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
  vec4 c = texelFetch(image, p, 0);
  if (c.a <= 0.0) {
    discard;
  }
  float z = texelFetch(depth, p, 0).r; /* distance along the view axis */
  float ndc = orthographic != 0 ? -projection_z.x * z + projection_z.y
                                : (-projection_z.x * z + projection_z.y) / z;
  gl_FragDepth = clamp(0.5 * ndc + 0.5, 0.0, 1.0);
  out_color = c;
}
"""


def build() -> Shader:
    info = shader_info()
    info.sampler(0, "FLOAT_2D", "image")
    info.sampler(1, "FLOAT_2D", "depth")
    info.vertex_in(0, "VEC2", "position")
    info.push_constant("VEC2", "projection_z")  # the projection's [2][2] and [2][3]
    info.push_constant("INT", "orthographic")
    info.depth_write("ANY")
    info.fragment_out(0, "VEC4", "out_color")
    info.vertex_source(VERTEX)
    info.fragment_source(FRAGMENT)
    return create_shader(info)
