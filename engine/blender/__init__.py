"""Blender-facing side of the runtime: the GAVATAR render engine and GPU drawing."""
