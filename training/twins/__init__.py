"""Torch twins of the bpy-free numpy maths in core/ (as gsplat keeps _torch_impl beside _wrapper):
each file names its numpy original in its first line;
tests/training/test_twins.py holds each pair together."""
