"""Compute, radix sort pass 1 of 3: the 16-bin histogram of one 4-bit digit of the keys, per
block of 4096 keys (one texture row; 256 threads x 16 keys).

Keys are non-negative floats in an R32F image; their bit patterns order like the floats.
Out: ``histogram`` (x: block, y: digit), R32UI.
"""

from __future__ import annotations

from ..gpu.api import Shader, create_shader, shader_info

THREADS = 256
KEYS_PER_THREAD = 16
BLOCK = THREADS * KEYS_PER_THREAD

SOURCE = """
shared uint totals[16];

void main()
{
  uint t = gl_LocalInvocationID.x;
  int block = int(gl_WorkGroupID.x);
  if (t < 16u) {
    totals[t] = 0u;
  }
  uint counts[16];
  for (int d = 0; d < 16; d++) {
    counts[d] = 0u;
  }
  for (int e = 0; e < KEYS_PER_THREAD; e++) {
    uint key = floatBitsToUint(imageLoad(keys, ivec2(int(t) * KEYS_PER_THREAD + e, block)).x);
    counts[(key >> uint(shift)) & 15u] += 1u;
  }
  barrier();
  for (int d = 0; d < 16; d++) {
    if (counts[d] != 0u) {
      atomicAdd(totals[d], counts[d]);
    }
  }
  barrier();
  if (t < 16u) {
    imageStore(histogram, ivec2(block, int(t)), uvec4(totals[t]));
  }
}
"""


def build() -> Shader:
    info = shader_info()
    info.image(0, "R32F", "FLOAT_2D", "keys", qualifiers={"READ"})
    info.image(1, "R32UI", "UINT_2D", "histogram", qualifiers={"WRITE"})
    info.push_constant("INT", "shift")
    info.define("KEYS_PER_THREAD", str(KEYS_PER_THREAD))
    info.local_group_size(THREADS, 1, 1)
    info.compute_source(SOURCE)
    return create_shader(info)
