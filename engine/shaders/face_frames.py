"""Compute: the frame of every driver-mesh triangle (docs/DESIGN.md, "Gaussian binding").

In:  ``vertices`` (xyz per texel, the evaluated driver mesh), ``faces`` (a, b, c as floats).
Out: ``frame_origin`` (origin xyz, face size k), ``frame_rotation`` (quaternion of R = [x y z]).
"""

from __future__ import annotations

from ..gpu.api import Shader, create_shader, shader_info
from . import glsl

LOCAL_SIZE = 64

SOURCE = """
void main()
{
  int f = int(gl_GlobalInvocationID.x);
  if (f >= num_faces) {
    return;
  }
  vec3 corners = texelFetch(faces, texel_coord(f), 0).xyz;
  vec3 a = texelFetch(vertices, texel_coord(int(corners.x)), 0).xyz;
  vec3 b = texelFetch(vertices, texel_coord(int(corners.y)), 0).xyz;
  vec3 c = texelFetch(vertices, texel_coord(int(corners.z)), 0).xyz;
  vec3 e1 = b - a;
  vec3 e2 = c - a;
  vec3 x = e1 / max(length(e1), 1e-20);
  vec3 n = cross(e1, e2);
  vec3 z = n / max(length(n), 1e-20);
  vec3 y = cross(z, x);
  float k = (length(b - a) + length(c - b) + length(a - c)) / 3.0;
  imageStore(frame_origin, texel_coord(f), vec4((a + b + c) / 3.0, k));
  imageStore(frame_rotation, texel_coord(f), mat3_to_quat(mat3(x, y, z)));
}
"""


def build() -> Shader:
    info = shader_info()
    info.sampler(0, "FLOAT_2D", "vertices")
    info.sampler(1, "FLOAT_2D", "faces")
    info.image(0, "RGBA32F", "FLOAT_2D", "frame_origin", qualifiers={"WRITE"})
    info.image(1, "RGBA32F", "FLOAT_2D", "frame_rotation", qualifiers={"WRITE"})
    info.push_constant("INT", "num_faces")
    info.local_group_size(LOCAL_SIZE, 1, 1)
    info.compute_source(glsl.TEXEL + glsl.QUATERNION + SOURCE)
    return create_shader(info)
