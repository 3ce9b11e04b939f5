"""Gaussian avatars, bpy-free and torch-free: 3DGS PLY io, the triangle binding and its dynamics,
spherical harmonics, and the ``.gavatar`` file. Blender, the trainer and the tests share it."""
