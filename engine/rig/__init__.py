"""Rig models (FLAME, SMPL-X, SMPL-H): data, loading and the numpy forward. bpy-free, torch-free."""
