"""Vertex + fragment: scene meshes in simple solid shading (headlight Lambert), with depth.

Colours are display values, like the Gaussians they sit under. Target 1 gets (depth, pass index,
0, 1); target 2 the normal facing the camera, in camera (OpenCV) axes.
"""

from __future__ import annotations

from ..gpu.api import Shader, create_shader, shader_info, stage_interface

VERTEX = """
void main()
{
  vec4 eye = model_view * vec4(position, 1.0);
  gl_Position = projection * eye;
  eye_normal = mat3(model_view) * normal;
  eye_position = eye.xyz;
  depth = -eye.z;
}
"""

FRAGMENT = """
void main()
{
  vec3 n = normalize(eye_normal);
  float light = 0.25 + 0.75 * abs(n.z);
  out_color = vec4(base_color.rgb * light, 1.0);

  out_depth = vec4(depth, base_color.a, 0.0, 1.0);
  vec3 facing = dot(n, -eye_position) < 0.0 ? -n : n;
  out_normal = vec4(facing.x, -facing.y, -facing.z, 1.0); /* OpenGL eye axes -> OpenCV */
  out_motion = vec4(0.0, 0.0, 0.0, 1.0); /* meshes: no Vector pass motion (a preview) */
}
"""


def build() -> Shader:
    iface = stage_interface("gavatar_mesh_iface")
    iface.smooth("VEC3", "eye_normal")
    iface.smooth("FLOAT", "depth")
    iface.smooth("VEC3", "eye_position")
    info = shader_info()
    info.vertex_in(0, "VEC3", "position")
    info.vertex_in(1, "VEC3", "normal")
    info.vertex_out(iface)
    info.push_constant("MAT4", "model_view")
    info.push_constant("MAT4", "projection")
    info.push_constant("VEC4", "base_color")  # rgb: display colour; a: the object's pass index
    info.fragment_out(0, "VEC4", "out_color")
    info.fragment_out(1, "VEC4", "out_depth")
    info.fragment_out(2, "VEC4", "out_normal")
    info.fragment_out(3, "VEC4", "out_motion")
    info.vertex_source(VERTEX)
    info.fragment_source(FRAGMENT)
    return create_shader(info)
