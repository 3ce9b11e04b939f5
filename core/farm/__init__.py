"""Rendering a frame range on several workers: bpy-free planning (frame lists and chunks, frames
already on disk, worker command lines, the Flamenco job description) and the local process pool.

The Blender side (saving the temp copy, the worker entry point, the operators) lives in
blender/farm/ and ops/render_farm.py.
"""
