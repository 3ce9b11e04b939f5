"""Vertex + fragment: one instanced quad per splat, back to front, premultiplied "over".

Instance i draws the splat at sorted position count-1-i (the sort is near to far). The quad spans
the splat's ellipse along its 2D covariance's eigenvectors; the fragment evaluates
alpha = min(0.999, opacity * exp(-power)) at the pixel centre and discards alpha < 1/255, as
gsplat 1.5.3's rasterizer (and training/render/reference.py) does. Colour target 0 gets
(rgb * alpha, alpha) in display (sRGB) values; target 1 gets (depth * alpha, index * alpha, 0,
alpha) for the expected-depth and object-index passes (and the Vector pass's w * alpha in its third
channel); target 2 gets (normal * alpha, alpha), the
normal being the Gaussian's shortest axis facing the camera, in camera (OpenCV) axes; target 3
gets (motion.xyz * alpha, alpha), the splat's Vector pass value when one is bound. A tint (an
avatar following a light) scales each splat's scene-linear colour before it is drawn.
"""

from __future__ import annotations

from ..gpu.api import Shader, create_shader, shader_info, stage_interface
from . import glsl

ALPHA_MAX = 0.999  # gsplat 1.5.3's clamp (graphdeco's rasterizer uses 0.99)

VERTEX = """
void main()
{
  int g = int(texelFetch(sorted_values, texel_coord(count - 1 - gl_InstanceID), 0).r);
  ivec2 at = texel_coord(g);
  vec4 center = texelFetch(splat_center, at, 0);
  if (center.w <= 0.0) {
    gl_Position = vec4(2.0, 2.0, 2.0, 1.0); /* Culled: outside the clip volume. */
    return;
  }
  vec4 axes = texelFetch(splat_axes, at, 0);
  vec2 offset = corner.x * axes.xy + corner.y * axes.zw;
  vec2 pixel = center.xy + offset;
  float z = center.z;
  float ndc_z = orthographic != 0 ? -depth_params.x * z + depth_params.y
                                  : (-depth_params.x * z + depth_params.y) / z;
  gl_Position = vec4(2.0 * pixel.x / image_size.x - 1.0, 1.0 - 2.0 * pixel.y / image_size.y, ndc_z, 1.0);
  delta = offset;
  conic = texelFetch(splat_conic, at, 0).xyz;
  vec3 color = texelFetch(splat_color, at, 0).rgb;
  if (tint.w != 0.0) { /* Following a light: scale the scene-linear colour. */
    color = linear_to_srgb(srgb_to_linear(max(color, vec3(0.0))) * tint.rgb);
  }
  color_opacity = vec4(color, center.w);
  depth = z;
  /* The Gaussian's normal: its shortest axis, turned to face the camera, in camera axes. */
  mat3 r = quat_to_mat3(texelFetch(world_rotation, at, 0));
  vec3 s = texelFetch(world_scale, at, 0).xyz;
  vec3 n = s.x <= s.y && s.x <= s.z ? r[0] : (s.y <= s.z ? r[1] : r[2]);
  vec3 mean = texelFetch(world_mean, at, 0).xyz;
  if (dot(n, camera_local.xyz - mean) < 0.0) {
    n = -n;
  }
  normal = normalize(mat3(normal_matrix) * n);
  motion = use_motion != 0 ? texelFetch(splat_motion, at, 0) : vec4(0.0);
}
"""

FRAGMENT = """
void main()
{
  float power = 0.5 * (conic.x * delta.x * delta.x + conic.z * delta.y * delta.y) +
                conic.y * delta.x * delta.y;
  if (power < 0.0) {
    discard;
  }
  float alpha = min(ALPHA_MAX, color_opacity.a * exp(-power));
  if (alpha < 1.0 / 255.0) {
    discard;
  }
  out_color = vec4(color_opacity.rgb * alpha, alpha);
  /* Blending weighs each target by its own alpha: the Vector pass's fourth value rides in the
     depth target's free channel. */
  out_depth = vec4(depth * alpha, object_index * alpha, motion.w * alpha, alpha);
  out_normal = vec4(normal * alpha, alpha);
  out_motion = vec4(motion.xyz * alpha, alpha);
}
"""


def build() -> Shader:
    iface = stage_interface("gavatar_splat_iface")
    iface.smooth("VEC2", "delta")
    iface.flat("VEC3", "conic")
    iface.flat("VEC4", "color_opacity")
    iface.flat("FLOAT", "depth")
    iface.flat("VEC3", "normal")
    iface.flat("VEC4", "motion")
    info = shader_info()
    for slot, name in enumerate(
        ("sorted_values", "splat_center", "splat_conic", "splat_color", "splat_axes")
        + ("world_mean", "world_rotation", "world_scale", "splat_motion")
    ):
        info.sampler(slot, "FLOAT_2D", name)
    info.vertex_in(0, "VEC2", "corner")
    info.vertex_out(iface)
    # Largest first, so the block packs into 120 bytes (128 is the guaranteed minimum).
    info.push_constant("MAT4", "normal_matrix")  # object -> camera (OpenCV axes) for normals
    info.push_constant("VEC4", "camera_local")  # xyz: the camera in object space; w: object index
    info.push_constant("VEC4", "tint")  # rgb: linear multiplier; w: 0 leaves the colour as it is
    info.push_constant("VEC2", "image_size")
    info.push_constant("VEC2", "depth_params")
    info.push_constant("INT", "orthographic")
    info.push_constant("INT", "count")
    info.push_constant("INT", "use_motion")  # 1: splat_motion holds each splat's Vector pass value
    info.define("ALPHA_MAX", repr(ALPHA_MAX))
    info.fragment_out(0, "VEC4", "out_color")
    info.fragment_out(1, "VEC4", "out_depth")
    info.fragment_out(2, "VEC4", "out_normal")
    info.fragment_out(3, "VEC4", "out_motion")
    info.vertex_source(glsl.TEXEL + glsl.SRGB + glsl.QUATERNION + VERTEX)
    info.fragment_source("#define object_index camera_local.w\n" + FRAGMENT)
    return create_shader(info)
