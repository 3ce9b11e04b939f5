"""Splat objects: Gaussians stored as point attributes of a mesh object, their driver mesh, the
range guard on their dynamics, and their per-frame evaluation."""
