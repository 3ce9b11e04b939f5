"""Benchmarks of the trainer: speed, CPU presets, A/B runs, GPU scaling (run on purpose)."""
