"""A small animated GAVATAR avatar scene for the distributed-render tests: a FLAME-format sphere
head rig (tests/engine_fixtures.py) with bound Gaussians (SH degree 1, expression/pose dynamics),
keyed to a different pose on every frame, a camera framing it, PNG output at a tiny resolution."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from tests.engine_fixtures import addon_module, bound_arrays, sphere_head_model

WIDTH, HEIGHT = 48, 40


def build_avatar_scene(frames: int = 8, gaussians: int = 300, seed: int = 2) -> None:
    """In the open (empty) file: the keyed avatar over frames 1..frames, camera, world, PNG output."""
    scene = bpy.context.scene
    scene.render.engine = "GAVATAR"
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    scene.render.resolution_percentage = 100
    scene.render.dither_intensity = 0.0
    scene.view_settings.view_transform = "Standard"
    settings = scene.render.image_settings
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "8"
    world = bpy.data.worlds.new("World")
    world.color = (0.05, 0.12, 0.3)
    scene.world = world
    model = sphere_head_model()
    parts = addon_module("engine.blender.rig.build").build_rig(model, bpy.context)
    arrays = bound_arrays(
        num_faces=len(model.faces), count=gaussians, degree=1, rank=2,
        num_expression=model.num_expression, num_pose_features=9 * (model.num_joints - 1),
    )  # fmt: skip
    addon_module("engine.blender.splat_data").create_splat_object("Avatar", arrays, driver=parts.mesh)
    rng = np.random.default_rng(seed)
    sequence = {
        "pose": rng.normal(0.0, 0.3, (frames, 5, 3)),
        "expression": rng.normal(0.0, 1.0, (frames, model.num_expression)),
    }
    addon_module("engine.blender.rig.pose_io").write_pose(parts, sequence, keyframe=True, frame_start=1)
    scene.frame_start, scene.frame_end = 1, frames
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    eye, target = Vector((0.08, -0.45, 0.18)), Vector((0.0, 0.0, 0.12))
    camera.location = eye
    camera.rotation_mode = "QUATERNION"
    camera.rotation_quaternion = (target - eye).to_track_quat("-Z", "Y")
    scene.frame_set(1)


def save_avatar_scene(path: Path, output: Path, frames: int = 8) -> Path:
    """A fresh file with the avatar scene, its output path set, saved to path."""
    bpy.ops.wm.read_homefile(use_empty=True)
    build_avatar_scene(frames)
    bpy.context.scene.render.filepath = str(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path
