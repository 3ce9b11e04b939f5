"""Imported datasets as Blender scenes: cameras, background images, the tracked rig, and the
handlers that keep them right while scrubbing."""
