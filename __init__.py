"""Gaussian Avatar: a Blender extension for photoreal 3D Gaussian avatars.

Blender imports this package as ``bl_ext.<repo>.gaussian_avatar``; everything it registers lives
in ``addon/`` (shell) and ``ops/`` (operators), on top of ``blender/`` (Blender-side features),
``engine/`` (the render engine) and ``core/`` (bpy-free); docs/MODULES.md is the map.
Nothing here may import torch: the trainer (``training/``) runs in its own Python.
"""


def register() -> None:
    from .addon import registration

    registration.register()


def unregister() -> None:
    from .addon import registration

    registration.unregister()
