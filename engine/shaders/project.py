"""Compute: Gaussians -> screen-space splats, depth keys and identity indices for the sort.

EWA projection as gsplat does it: covariance R S S^T R^T seen through the Jacobian of the camera
projection (perspective with gsplat's 1.3x frustum clamp, or orthographic), plus a 0.3 px
low-pass; colour from SH (degree <= 3) for the direction camera -> mean in the object's space,
+0.5, clamped at 0. The quad of a splat spans its ellipse out to where opacity * exp(-power)
falls below 1/255 (what the fragment shader discards), along the eigenvectors of its 2D
covariance. Culled splats get opacity 0 and key +inf (sorted last, drawn first as nothing).

Out per Gaussian: ``splat_center`` (px, py (pixel corners, rows top-down), depth, opacity),
``splat_conic`` (inverse 2D covariance a, b, c), ``splat_color`` (rgb), ``splat_axes``
(half axes 1 and 2 in pixels), ``sort_keys`` (depth), ``sort_values`` (index).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..gpu.api import Shader, create_shader, shader_info, uniform_buffer
from . import glsl

LOCAL_SIZE = 64
LOW_PASS = 0.3
ALPHA_MIN = 1.0 / 255.0

# std140: one mat4 and six 16-byte rows; packed by pack_params().
PARAMS_STRUCT = """
struct ProjectParams {
  mat4 object_to_camera;
  vec4 intrinsics;
  vec4 image_clip;
  vec4 camera_position;
  vec4 view_direction;
  vec4 frame_box;
  ivec4 flags;
};
"""
PARAMS_FLOATS = 40

SOURCE = """
const float SH_C0 = 0.28209479177387814;
const float SH_C1 = 0.4886025119029199;
const float SH_C2[5] = float[5](1.0925484305920792, -1.0925484305920792, 0.31539156525252005,
                                -1.0925484305920792, 0.5462742152960396);
const float SH_C3[7] = float[7](-0.5900435899266435, 2.890611442640554, -0.4570457994644658,
                                0.3731763325901154, -0.4570457994644658, 1.445305721320277,
                                -0.5900435899266435);

vec3 coeff(float v[48], int c)
{
  int i = 3 * (c - 1);
  return vec3(v[i], v[i + 1], v[i + 2]);
}

vec3 sh_color(int g, vec3 dc, vec3 dir)
{
  int sh_degree = params.flags.y;
  int sh_texels = params.flags.z;
  vec3 result = SH_C0 * dc;
  if (sh_degree > 0) {
    float v[48];
    for (int t = 0; t < sh_texels; t++) {
      vec4 x = texelFetch(sh_rest, texel_coord(g * sh_texels + t), 0);
      v[4 * t] = x.x;
      v[4 * t + 1] = x.y;
      v[4 * t + 2] = x.z;
      v[4 * t + 3] = x.w;
    }
    float x = dir.x, y = dir.y, z = dir.z;
    result += SH_C1 * (-y * coeff(v, 1) + z * coeff(v, 2) - x * coeff(v, 3));
    if (sh_degree > 1) {
      float xx = x * x, yy = y * y, zz = z * z, xy = x * y, yz = y * z, xz = x * z;
      result += SH_C2[0] * xy * coeff(v, 4) + SH_C2[1] * yz * coeff(v, 5) +
                SH_C2[2] * (2.0 * zz - xx - yy) * coeff(v, 6) + SH_C2[3] * xz * coeff(v, 7) +
                SH_C2[4] * (xx - yy) * coeff(v, 8);
      if (sh_degree > 2) {
        result += SH_C3[0] * y * (3.0 * xx - yy) * coeff(v, 9) +
                  SH_C3[1] * xy * z * coeff(v, 10) +
                  SH_C3[2] * y * (4.0 * zz - xx - yy) * coeff(v, 11) +
                  SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * coeff(v, 12) +
                  SH_C3[4] * x * (4.0 * zz - xx - yy) * coeff(v, 13) +
                  SH_C3[5] * z * (xx - yy) * coeff(v, 14) +
                  SH_C3[6] * x * (xx - 3.0 * yy) * coeff(v, 15);
      }
    }
  }
  return max(result + 0.5, vec3(0.0));
}

void cull(ivec2 at, int g)
{
  imageStore(splat_center, at, vec4(0.0));
  imageStore(sort_keys, at, vec4(uintBitsToFloat(0x7F800000u)));
  imageStore(sort_values, at, vec4(float(g)));
}

void main()
{
  int g = int(gl_GlobalInvocationID.x);
  int count = params.flags.w;
  if (g >= count) {
    return;
  }
  mat4 object_to_camera = params.object_to_camera;
  vec4 intrinsics = params.intrinsics;
  vec2 image_size = params.image_clip.xy;
  vec2 clip_range = params.image_clip.zw;
  vec3 camera_position = params.camera_position.xyz;
  float splat_scale = params.camera_position.w;
  vec3 view_direction = params.view_direction.xyz;
  int orthographic = params.flags.x;
  ivec2 at = texel_coord(g);
  vec4 mean_opacity = texelFetch(world_mean, at, 0);
  float opacity = mean_opacity.w;
  vec3 t = (object_to_camera * vec4(mean_opacity.xyz, 1.0)).xyz;
  if (opacity < ALPHA_MIN || t.z < clip_range.x || t.z > clip_range.y) {
    cull(at, g);
    return;
  }
  mat3 r = quat_to_mat3(texelFetch(world_rotation, at, 0));
  vec3 s = texelFetch(world_scale, at, 0).xyz * splat_scale;
  mat3 m = mat3(object_to_camera) * r * mat3(s.x, 0.0, 0.0, 0.0, s.y, 0.0, 0.0, 0.0, s.z);
  mat3 cov = m * transpose(m);

  float fx = intrinsics.x, fy = intrinsics.y, cx = intrinsics.z, cy = intrinsics.w;
  vec2 center;
  mat3 j; /* Rows 0 and 1 used: d(pixel)/d(camera point). */
  if (orthographic != 0) {
    center = vec2(fx * t.x + cx, fy * t.y + cy);
    j = mat3(fx, 0.0, 0.0, 0.0, fy, 0.0, 0.0, 0.0, 0.0);
  }
  else {
    /* gsplat's clamp: 30% beyond the full frame (not a border render's crop). */
    vec4 box = params.frame_box;
    float tan_x = 0.5 * (box.z - box.x) / fx, tan_y = 0.5 * (box.w - box.y) / fy;
    float lim_x_pos = (box.z - cx) / fx + 0.3 * tan_x;
    float lim_x_neg = (cx - box.x) / fx + 0.3 * tan_x;
    float lim_y_pos = (box.w - cy) / fy + 0.3 * tan_y;
    float lim_y_neg = (cy - box.y) / fy + 0.3 * tan_y;
    float rz = 1.0 / t.z;
    float tx = t.z * clamp(t.x * rz, -lim_x_neg, lim_x_pos);
    float ty = t.z * clamp(t.y * rz, -lim_y_neg, lim_y_pos);
    center = vec2(fx * t.x * rz + cx, fy * t.y * rz + cy);
    /* Column-major: columns are d/dx, d/dy, d/dz. */
    j = mat3(fx * rz, 0.0, 0.0, 0.0, fy * rz, 0.0, -fx * tx * rz * rz, -fy * ty * rz * rz, 0.0);
  }
  mat3 cov2 = j * cov * transpose(j);
  float a = cov2[0][0] + LOW_PASS, b = cov2[0][1], c = cov2[1][1] + LOW_PASS;
  float det = a * c - b * b;
  if (!(det > 0.0)) {
    cull(at, g);
    return;
  }
  /* Eigen-decomposition of [[a, b], [b, c]]. */
  float mid = 0.5 * (a + c);
  float spread = sqrt(max(0.25 * (a - c) * (a - c) + b * b, 0.0));
  float l1 = mid + spread, l2 = max(mid - spread, 1e-12);
  float angle = 0.5 * atan(2.0 * b, a - c);
  vec2 v1 = vec2(cos(angle), sin(angle));
  vec2 v2 = vec2(-v1.y, v1.x);
  float extent = sqrt(2.0 * log(opacity / ALPHA_MIN));
  vec2 axis1 = v1 * extent * sqrt(l1);
  vec2 axis2 = v2 * extent * sqrt(l2);
  vec2 half_box = extent * sqrt(vec2(a, c));
  if (center.x + half_box.x < 0.0 || center.x - half_box.x > image_size.x ||
      center.y + half_box.y < 0.0 || center.y - half_box.y > image_size.y)
  {
    cull(at, g);
    return;
  }
  vec3 dir = orthographic != 0 ? view_direction : mean_opacity.xyz - camera_position;
  dir = dir / max(length(dir), 1e-20);
  vec3 color = sh_color(g, texelFetch(world_dc, at, 0).rgb, dir);
  imageStore(splat_center, at, vec4(center, t.z, opacity));
  imageStore(splat_conic, at, vec4(c / det, -b / det, a / det, 0.0));
  imageStore(splat_color, at, vec4(color, 0.0));
  imageStore(splat_axes, at, vec4(axis1, axis2));
  imageStore(sort_keys, at, vec4(t.z));
  imageStore(sort_values, at, vec4(float(g)));
}
"""


def pack_params(
    object_to_camera: np.ndarray,
    intrinsics: tuple[float, float, float, float],
    image_clip: tuple[float, float, float, float],
    camera_position: np.ndarray,
    splat_scale: float,
    view_direction: np.ndarray,
    frame_box: tuple[float, float, float, float],
    flags: tuple[int, int, int, int],
) -> Any:
    """The uniform block: flags = (orthographic, sh_degree, sh_texels, count)."""
    block = np.zeros(PARAMS_FLOATS, dtype=np.float32)
    block[0:16] = np.asarray(object_to_camera, dtype=np.float64).T.ravel()  # column-major
    block[16:20] = intrinsics
    block[20:24] = image_clip
    block[24:27] = camera_position
    block[27] = splat_scale
    block[28:31] = view_direction
    block[32:36] = frame_box
    block[36:40].view(np.int32)[:] = flags
    return uniform_buffer(block)


def build() -> Shader:
    info = shader_info()
    for slot, name in enumerate(("world_mean", "world_rotation", "world_scale", "world_dc", "sh_rest")):
        info.sampler(slot, "FLOAT_2D", name)
    for slot, name in enumerate(("splat_center", "splat_conic", "splat_color", "splat_axes")):
        info.image(slot, "RGBA32F", "FLOAT_2D", name, qualifiers={"WRITE"})
    info.image(4, "R32F", "FLOAT_2D", "sort_keys", qualifiers={"WRITE"})
    info.image(5, "R32F", "FLOAT_2D", "sort_values", qualifiers={"WRITE"})
    info.typedef_source(PARAMS_STRUCT)
    info.uniform_buf(0, "ProjectParams", "params")
    info.define("LOW_PASS", repr(LOW_PASS))
    info.define("ALPHA_MIN", f"({ALPHA_MIN!r})")
    info.local_group_size(LOCAL_SIZE, 1, 1)
    info.compute_source(glsl.TEXEL + glsl.QUATERNION + SOURCE)
    return create_shader(info)
