"""The GAVATAR render engine: Gaussians drawn live in the viewport and in F12 renders (frame, passes,
GPU data and shaders, splat objects), plus the two pieces of bpy plumbing every Blender layer above
uses (registrar.py, hooks.py). The lowest Blender layer: imports core/ only."""
