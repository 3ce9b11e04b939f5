"""Tests of blender/shot/ (avatars in Cycles and EEVEE renders)."""
