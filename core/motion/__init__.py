"""Motion data (AMASS clips, parameter sequences): reading, frame-rate resampling, world frames.
bpy-free and torch-free."""
