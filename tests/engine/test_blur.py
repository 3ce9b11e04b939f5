"""Depth of field and motion blur in GAVATAR renders: a point-like Gaussian spreads to the
thin-lens circle of confusion, and one moving N pixels during the shutter smears over N pixels."""

from __future__ import annotations

import math

import bpy
import numpy as np
from bpy_extras import anim_utils

from tests.fixtures.engine import addon_module, static_arrays
from tests.fixtures.shot import render_linear

SIZE = 96


def point_splat(location: tuple[float, float, float]) -> bpy.types.Object:
    splat_data = addon_module("engine.splats.data")
    arrays = static_arrays(count=1, degree=0, seed=1)
    arrays.means[:] = 0.0
    arrays.quats[:] = (1.0, 0.0, 0.0, 0.0)
    arrays.log_scales[:] = math.log(1e-4)
    arrays.opacity_logits[:] = 6.0
    obj = splat_data.create_splat_object("Point", arrays)
    obj.location = location
    return obj


def setup(samples: int) -> tuple[bpy.types.Scene, bpy.types.Object]:
    scene = bpy.context.scene
    scene.render.engine = "GAVATAR"
    scene.render.resolution_x = scene.render.resolution_y = SIZE
    scene.render.film_transparent = True
    scene.gavatar_engine.blur_samples = samples
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.location, camera.rotation_euler = (0.0, -2.0, 0.0), (math.pi / 2, 0.0, 0.0)
    camera.data.lens, camera.data.sensor_width = 50.0, 36.0
    scene.collection.objects.link(camera)
    scene.camera = camera
    return scene, camera


def moments(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (x, y) and variances (x, y) of an image's weights."""
    ys, xs = np.mgrid[0 : weight.shape[0], 0 : weight.shape[1]]
    total = weight.sum()
    centre = np.array([(weight * xs).sum(), (weight * ys).sum()]) / total
    var = np.array([(weight * (xs - centre[0]) ** 2).sum(), (weight * (ys - centre[1]) ** 2).sum()]) / total
    return centre, var


def test_a_point_spreads_to_the_circle_of_confusion(clean_scene, tmp_path) -> None:
    lens = addon_module("core.lens")
    _scene, camera = setup(samples=256)
    point_splat((0.0, 0.0, 0.0))  # 2 m in front of the camera
    sharp = render_linear(tmp_path / "sharp.exr")[..., 3]
    dof = camera.data.dof
    dof.use_dof, dof.focus_distance, dof.aperture_fstop = True, 1.0, 0.25
    blurred = render_linear(tmp_path / "blurred.exr")[..., 3]
    fx = camera.data.lens / camera.data.sensor_width * SIZE
    radius = lens.aperture_radius(camera.data.lens, dof.aperture_fstop)
    expected = lens.circle_of_confusion(fx, radius, 1.0, 2.0)
    assert expected > 6.0  # many pixels
    _, var_sharp = moments(sharp)
    _, var_blurred = moments(blurred)
    # A uniform disc of radius r has mean squared radius r^2 / 2.
    measured = math.sqrt(2.0 * (var_blurred.sum() - var_sharp.sum()))
    print(f"circle of confusion: measured {measured:.2f} px, thin lens {expected:.2f} px")
    assert abs(measured - expected) / expected < 0.10, (measured, expected)
    assert abs(blurred.sum() - sharp.sum()) / sharp.sum() < 0.02  # the light is spread, not lost


def test_a_moving_point_smears_over_its_path(clean_scene, tmp_path) -> None:
    scene, camera = setup(samples=64)
    obj = point_splat((0.0, 0.0, 0.0))
    fx = camera.data.lens / camera.data.sensor_width * SIZE
    pixels_per_frame = 12.0
    step = pixels_per_frame * 2.0 / fx  # world units at 2 m for that many pixels
    for frame, x in ((1, -step), (3, step)):
        obj.location.x = x
        obj.keyframe_insert("location", index=0, frame=frame)
    action = obj.animation_data.action
    channels = anim_utils.action_get_channelbag_for_slot(action, obj.animation_data.action_slot)
    for key in channels.fcurves[0].keyframe_points:
        key.interpolation = "LINEAR"  # constant speed through frame 2
    scene.frame_set(2)
    sharp = render_linear(tmp_path / "sharp.exr")[..., 3]
    scene.render.use_motion_blur = True
    scene.render.motion_blur_shutter = 1.0
    scene.render.motion_blur_position = "CENTER"
    smeared = render_linear(tmp_path / "smeared.exr")[..., 3]
    centre_sharp, var_sharp = moments(sharp)
    centre_smeared, var_smeared = moments(smeared)
    # A uniform smear of length N adds N^2 / 12 to the variance along the motion.
    length = math.sqrt(12.0 * (var_smeared[0] - var_sharp[0]))
    print(f"motion blur: smear {length:.2f} px for {pixels_per_frame:.1f} px in the shutter")
    assert abs(length - pixels_per_frame) / pixels_per_frame < 0.10, length
    assert abs(var_smeared[1] - var_sharp[1]) < 0.1  # nothing across the motion
    assert abs(centre_smeared[0] - centre_sharp[0]) < 0.3  # centred shutter: centred smear
