"""A GPU context for drawing outside a render (background mode: scripts, tests, benchmarks).

In background mode bpy's gpu module refuses to draw until Blender has made a GPU context; one tiny
Workbench render makes it (about a second on software OpenGL). Renders of the GAVATAR engine do
not need this: Blender gives render() its own context.
"""

from __future__ import annotations

import bpy

from .api import gpu


def gpu_available() -> bool:
    try:
        gpu.types.GPUTexture((1, 1), format="RGBA8")
    except SystemError:
        return False
    return True


def ensure_gpu_context() -> None:
    """Makes the GPU usable here; touches no user data (a temporary scene, removed again)."""
    if gpu_available():
        return
    scene = bpy.data.scenes.new("gavatar-gpu-context")
    camera_data = bpy.data.cameras.new("gavatar-gpu-context")
    camera = bpy.data.objects.new("gavatar-gpu-context", camera_data)
    try:
        scene.collection.objects.link(camera)
        scene.camera = camera
        scene.render.engine = "BLENDER_WORKBENCH"  # type: ignore[assignment]
        scene.render.resolution_x = scene.render.resolution_y = 16
        scene.render.resolution_percentage = 100
        bpy.ops.render.render(scene=scene.name)
    finally:
        bpy.data.objects.remove(camera)
        bpy.data.cameras.remove(camera_data)
        bpy.data.scenes.remove(scene)
    if not gpu_available():
        raise RuntimeError("could not create a GPU context for drawing")
