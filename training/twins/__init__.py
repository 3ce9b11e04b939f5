"""Torch twins of the bpy-free numpy maths in core/ (as gsplat keeps _torch_impl beside _wrapper):
each file names its numpy original in its first line; tests/training/twins/test_<name>.py holds each pair
together."""
