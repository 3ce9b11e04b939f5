"""Gaussian Avatar: a Blender extension for photoreal 3D Gaussian avatars.

Blender imports this package as ``bl_ext.<repo>.gaussian_avatar``; everything it registers lives
in ``addon/`` (shell), ``ops/`` (operators) and ``engine/blender`` (render engine).
Nothing here may import torch: the trainer (``training/``) runs in its own Python.
"""


def register() -> None:
    from .addon import registration

    registration.register()


def unregister() -> None:
    from .addon import registration

    registration.unregister()
