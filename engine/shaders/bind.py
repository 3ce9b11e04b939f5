"""Compute: bound Gaussians -> Gaussians in the driver mesh's space, with dynamic blendshapes.

Per Gaussian g with parent face f (docs/DESIGN.md): delta = basis[g].T @ z;
mean = o_f + k_f R_f (offset + d_offset); rotation = q(R_f) * normalize(q_local + d_rotation);
scale = k_f exp(log_scale + d_log_scale); opacity = sigmoid(logit + d_opacity);
dc = dc + d_dc + s S (n_f - n_rest) with n_f = R_f's z axis (normal shading scaled by
``shading_scale`` s; skipped at 0, so switched off gives exactly the unshaded colour).
Writes the "world" textures the projection reads (the same ones the CPU path uploads).
"""

from __future__ import annotations

from ..gpu.api import Shader, create_shader, shader_info
from . import glsl

LOCAL_SIZE = 64

SOURCE = """
void main()
{
  int g = int(gl_GlobalInvocationID.x);
  if (g >= count) {
    return;
  }
  ivec2 at = texel_coord(g);
  vec4 bind = texelFetch(binding, at, 0);
  vec4 q_local = texelFetch(local_rotation, at, 0);
  vec4 scale_opacity = texelFetch(local_scale, at, 0);
  vec3 dc = texelFetch(sh_dc, at, 0).rgb;
  vec3 offset = bind.yzw;
  vec3 log_scale = scale_opacity.xyz;
  float logit = scale_opacity.w;
  if (rank > 0) {
    vec4 d0 = vec4(0.0), d1 = vec4(0.0), d2 = vec4(0.0), d3 = vec4(0.0);
    for (int k = 0; k < rank; k++) {
      float zk = texelFetch(weights, texel_coord(k / 4), 0)[k % 4];
      int base = (g * rank + k) * 4;
      d0 += zk * texelFetch(basis, texel_coord(base), 0);
      d1 += zk * texelFetch(basis, texel_coord(base + 1), 0);
      d2 += zk * texelFetch(basis, texel_coord(base + 2), 0);
      d3 += zk * texelFetch(basis, texel_coord(base + 3), 0);
    }
    /* Channels: d_offset 0-2, d_rotation 3-6, d_log_scale 7-9, d_opacity 10, d_dc 11-13. */
    offset += d0.xyz;
    q_local += vec4(d0.w, d1.xyz);
    log_scale += vec3(d1.w, d2.xy);
    logit += d2.z;
    dc += vec3(d2.w, d3.xy);
  }
  int f = int(bind.x);
  vec4 origin = texelFetch(frame_origin, texel_coord(f), 0);
  vec4 q_face = texelFetch(frame_rotation, texel_coord(f), 0);
  mat3 r = quat_to_mat3(q_face);
  if (shading_scale != 0.0) {
    /* Texel c: row c of S and (S n_rest)_c; r[2] is the face normal. */
    vec4 n = vec4(transpose(mat3(shading_rotation)) * r[2], -1.0); /* the key light turned by R */
    int base = g * 3;
    dc += shading_scale * vec3(dot(texelFetch(shading, texel_coord(base), 0), n),
                               dot(texelFetch(shading, texel_coord(base + 1), 0), n),
                               dot(texelFetch(shading, texel_coord(base + 2), 0), n));
  }
  vec3 mean = origin.xyz + origin.w * (r * offset);
  vec4 q = quat_mul(q_face, q_local / max(length(q_local), 1e-20));
  imageStore(world_mean, at, vec4(mean, 1.0 / (1.0 + exp(-logit))));
  imageStore(world_rotation, at, q / max(length(q), 1e-20));
  imageStore(world_scale, at, vec4(origin.w * exp(log_scale), 0.0));
  imageStore(world_dc, at, vec4(dc, 0.0));
}
"""


def build() -> Shader:
    info = shader_info()
    for slot, name in enumerate(
        (
            "binding",
            "local_rotation",
            "local_scale",
            "sh_dc",
            "frame_origin",
            "frame_rotation",
            "basis",
            "weights",
            "shading",
        )
    ):
        info.sampler(slot, "FLOAT_2D", name)
    for slot, name in enumerate(("world_mean", "world_rotation", "world_scale", "world_dc")):
        info.image(slot, "RGBA32F", "FLOAT_2D", name, qualifiers={"WRITE"})
    info.push_constant("MAT4", "shading_rotation")  # the key light's turn (core/avatar/relight.py)
    info.push_constant("INT", "count")
    info.push_constant("INT", "rank")
    info.push_constant("FLOAT", "shading_scale")
    info.local_group_size(LOCAL_SIZE, 1, 1)
    info.compute_source(glsl.TEXEL + glsl.QUATERNION + SOURCE)
    return create_shader(info)
