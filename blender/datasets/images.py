"""Dataset images as camera background images.

A camera that sees one image gets it as a plain background image. A camera that sees a sequence
keeps one Image datablock whose file is switched to the current frame's image on frame change:
dataset file names rarely follow Blender's image-sequence numbering (GaussianAvatars puts the
timestep before the camera), and one datablock per camera keeps memory flat however long the
sequence. The frame -> file table lives on the camera data (``gavatar_images``), so it saves with
the .blend; paths are stored relative to the dataset root (``gavatar_images_root``).
"""

from __future__ import annotations

import os
from pathlib import Path

import bpy

PROP_IMAGES = "gavatar_images"  # {str(frame): relative path}
PROP_ROOT = "gavatar_images_root"


def _load(path: str, name: str) -> bpy.types.Image:
    image = bpy.data.images.load(path, check_existing=False)
    image.name = name
    return image


def attach_images(
    cam_obj: bpy.types.Object, images_by_frame: dict[int, Path], root: Path, current_frame: int
) -> bpy.types.Image | None:
    """Show ``images_by_frame`` (Blender frame -> image file) behind the camera."""
    data = cam_obj.data
    assert isinstance(data, bpy.types.Camera)
    if not images_by_frame:
        return None
    data[PROP_ROOT] = str(root)
    data[PROP_IMAGES] = {str(f): os.path.relpath(p, root) for f, p in sorted(images_by_frame.items())}
    first = images_by_frame.get(current_frame) or images_by_frame[min(images_by_frame)]
    image = _load(str(first), f"{cam_obj.name} image")
    data.show_background_images = True
    bg = data.background_images.new()
    bg.image = image
    bg.alpha = 1.0
    bg.display_depth = "BACK"
    bg.frame_method = "STRETCH"  # the scene resolution is the image's: fill the frame exactly
    return image


def image_for_frame(data: bpy.types.Camera, frame: int) -> str | None:
    table = data.get(PROP_IMAGES)
    root = data.get(PROP_ROOT)
    if table is None or root is None:
        return None
    rel = table.get(str(frame))
    return None if rel is None else os.path.join(root, rel)


def update_images(scene: bpy.types.Scene) -> int:
    """Point each dataset camera's background image at the current frame's file. Returns how many
    changed. Frames without an image for a camera keep the last one shown."""
    changed = 0
    frame = scene.frame_current
    for data in bpy.data.cameras:
        table = data.get(PROP_IMAGES)
        if table is None or len(table) < 2 or not data.background_images:
            continue
        path = image_for_frame(data, frame)
        image = data.background_images[0].image
        if path is None or image is None or bpy.path.abspath(image.filepath) == path:
            continue
        image.filepath = path
        image.reload()
        changed += 1
    return changed
