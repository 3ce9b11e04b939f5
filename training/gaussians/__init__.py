"""Torch twins of the bpy-free Gaussian maths in ``engine.avatar`` (binding, dynamics)."""
