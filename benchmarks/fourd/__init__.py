"""Benchmarks of 4D sequences: training vs per-frame static reconstructions, playback in Blender."""
