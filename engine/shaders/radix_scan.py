"""Compute, radix sort pass 2 of 3: where each block's keys of each digit go.

offsets(block, d) = (keys of all digits < d) + (keys of digit d in blocks before this one).
One work group of 16 threads, one per digit, each walking the blocks in order.
"""

from __future__ import annotations

from ..gpu.api import Shader, create_shader, shader_info

SOURCE = """
shared uint digit_totals[16];

void main()
{
  int d = int(gl_LocalInvocationID.x);
  uint running = 0u;
  for (int b = 0; b < num_blocks; b++) {
    uint h = imageLoad(histogram, ivec2(b, d)).x;
    imageStore(offsets, ivec2(b, d), uvec4(running));
    running += h;
  }
  digit_totals[d] = running;
  barrier();
  uint base = 0u;
  for (int i = 0; i < d; i++) {
    base += digit_totals[i];
  }
  for (int b = 0; b < num_blocks; b++) {
    uint o = imageLoad(offsets, ivec2(b, d)).x;
    imageStore(offsets, ivec2(b, d), uvec4(o + base));
  }
}
"""


def build() -> Shader:
    info = shader_info()
    info.image(0, "R32UI", "UINT_2D", "histogram", qualifiers={"READ"})
    info.image(1, "R32UI", "UINT_2D", "offsets", qualifiers={"READ", "WRITE"})
    info.push_constant("INT", "num_blocks")
    info.local_group_size(16, 1, 1)
    info.compute_source(SOURCE)
    return create_shader(info)
