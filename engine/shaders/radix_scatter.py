"""Compute, radix sort pass 3 of 3: stable scatter of keys and values by one 4-bit digit.

Each block (4096 keys, 256 threads x 16 consecutive keys) ranks its keys by (digit, thread,
position): a scan over the 16 x 256 per-thread digit counts in shared memory gives every key
its place among the block's keys of the same digit, in index order, so the sort is stable.
"""

from __future__ import annotations

from ..gpu import arrays as gpu_arrays
from ..gpu.api import Shader, create_shader, shader_info
from .radix_count import KEYS_PER_THREAD, THREADS

SOURCE = """
shared uint ranks[16 * THREADS];
shared uint partial[THREADS];

void main()
{
  uint t = gl_LocalInvocationID.x;
  int block = int(gl_WorkGroupID.x);
  uint digits[KEYS_PER_THREAD];
  uint counts[16];
  for (int d = 0; d < 16; d++) {
    counts[d] = 0u;
  }
  for (int e = 0; e < KEYS_PER_THREAD; e++) {
    uint key = floatBitsToUint(imageLoad(keys_in, ivec2(int(t) * KEYS_PER_THREAD + e, block)).x);
    digits[e] = (key >> uint(shift)) & 15u;
    counts[digits[e]] += 1u;
  }
  for (int d = 0; d < 16; d++) {
    ranks[d * THREADS + int(t)] = counts[d];
  }
  barrier();
  /* Exclusive scan of ranks[] (digit-major, thread-minor): 16 entries per thread, then the
     256 thread sums (Hillis-Steele). */
  uint sum = 0u;
  for (int i = 0; i < 16; i++) {
    uint v = ranks[int(t) * 16 + i];
    ranks[int(t) * 16 + i] = sum;
    sum += v;
  }
  partial[t] = sum;
  barrier();
  for (uint step = 1u; step < uint(THREADS); step <<= 1) {
    uint v = t >= step ? partial[t - step] : 0u;
    barrier();
    partial[t] += v;
    barrier();
  }
  uint before = partial[t] - sum;
  for (int i = 0; i < 16; i++) {
    ranks[int(t) * 16 + i] += before;
  }
  barrier();
  uint seen[16];
  for (int d = 0; d < 16; d++) {
    seen[d] = 0u;
  }
  for (int e = 0; e < KEYS_PER_THREAD; e++) {
    uint d = digits[e];
    uint local_rank = ranks[int(d) * THREADS + int(t)] - ranks[int(d) * THREADS] + seen[d];
    seen[d] += 1u;
    uint target = imageLoad(offsets, ivec2(block, int(d))).x + local_rank;
    ivec2 src = ivec2(int(t) * KEYS_PER_THREAD + e, block);
    ivec2 dst = texel_coord(int(target));
    imageStore(keys_out, dst, imageLoad(keys_in, src));
    imageStore(values_out, dst, imageLoad(values_in, src));
  }
}
"""


def build() -> Shader:
    info = shader_info()
    info.image(0, "R32F", "FLOAT_2D", "keys_in", qualifiers={"READ"})
    info.image(1, "R32F", "FLOAT_2D", "values_in", qualifiers={"READ"})
    info.image(2, "R32F", "FLOAT_2D", "keys_out", qualifiers={"WRITE"})
    info.image(3, "R32F", "FLOAT_2D", "values_out", qualifiers={"WRITE"})
    info.image(4, "R32UI", "UINT_2D", "offsets", qualifiers={"READ"})
    info.push_constant("INT", "shift")
    info.define("KEYS_PER_THREAD", str(KEYS_PER_THREAD))
    info.define("THREADS", str(THREADS))
    info.local_group_size(THREADS, 1, 1)
    info.compute_source(gpu_arrays.GLSL + SOURCE)
    return create_shader(info)
