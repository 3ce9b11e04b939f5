"""The avatar runtime. Everything directly in this package is bpy-free and torch-free, so the
trainer, the tests and Blender share it; the Blender-facing side lives in ``engine.blender``."""
