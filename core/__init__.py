"""The bpy-free core of the product: rig maths, the avatar file, binding, datasets, motion, interop,
farm planning, training jobs, cameras and colour. Never imports bpy, torch or any layer above it."""
