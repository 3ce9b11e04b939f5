"""Benchmarks of python -m training track (accuracy on ground-truth clips, speed)."""
