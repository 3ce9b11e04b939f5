"""F12 of a Cycles shot with an avatar: the avatar layer merged by depth in the compositor.

Four renders of one shot: the composite (the feature on), the scene with the shadow proxy but no
avatar (what the compositor merges into), the scene without any avatar, and a GAVATAR render of
the avatar alone on a transparent film. Pictures of each are written to the test's tmp folder.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from tests.fixtures.engine import addon_module
from tests.fixtures.shot import Shot, build_shot, render_linear, save_preview

HIDDEN_RAYS = (
    "visible_camera",
    "visible_diffuse",
    "visible_glossy",
    "visible_transmission",
    "visible_volume_scatter",
)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def box_pixels(shot: Shot, obj: bpy.types.Object) -> tuple[int, int, int, int]:
    """The pixel bounding box (x0, y0, x1, y1), rows from the top, of obj's bounding box corners."""
    scene = shot.scene
    w, h = scene.render.resolution_x, scene.render.resolution_y
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    uv = np.array([world_to_camera_view(scene, shot.camera, c)[:2] for c in corners])
    x0, x1 = np.floor(uv[:, 0].min() * w), np.ceil(uv[:, 0].max() * w)
    y0, y1 = np.floor((1 - uv[:, 1].max()) * h), np.ceil((1 - uv[:, 1].min()) * h)
    return int(x0), int(y0), int(x1), int(y1)


def box_mask(shape: tuple[int, int], box: tuple[int, int, int, int], grow: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros(shape, dtype=bool)
    mask[max(0, y0 - grow) : max(0, y1 + grow), max(0, x0 - grow) : max(0, x1 + grow)] = True
    return mask


def four_renders(shot: Shot, folder: Path) -> dict[str, np.ndarray]:
    scene = shot.scene
    images = {"composite": render_linear(folder / "composite.exr")}
    scene.gavatar_engine.avatars_in_renders = False
    shot.splat.hide_render = True
    for name in HIDDEN_RAYS:  # the shadow proxy as the shot sets it up
        setattr(shot.driver, name, False)
    images["scene_with_shadow"] = render_linear(folder / "scene_with_shadow.exr")
    shot.driver.hide_render = True
    images["scene_alone"] = render_linear(folder / "scene_alone.exr")
    shot.splat.hide_render = False
    shot.driver.hide_render = False
    for obj in scene.objects:
        if obj.type == "MESH" and obj not in (shot.splat, shot.driver):
            obj.hide_render = True
    scene.render.engine = "GAVATAR"
    scene.render.film_transparent = True
    images["avatar_alone"] = render_linear(folder / "avatar_alone.exr")
    for name, image in images.items():
        save_preview(folder / f"{name}.png", image)
    return images


@pytest.fixture(scope="module")
def cycles_shot(addon, tmp_path_factory) -> tuple[Shot, dict[str, np.ndarray], dict[str, object]]:
    bpy.ops.wm.read_homefile(use_empty=True)
    shot = build_shot("CYCLES")
    scene = shot.scene
    before = {
        "scenes": len(bpy.data.scenes),
        "node_groups": len(bpy.data.node_groups),
        "objects": len(bpy.data.objects),
        "use_compositing": scene.render.use_compositing,
        "use_pass_z": scene.view_layers[0].use_pass_z,
    }
    images = four_renders(shot, tmp_path_factory.mktemp("shot"))
    return shot, images, before


def test_uncovered_avatar_pixels_are_the_avatar_over_the_scene(cycles_shot) -> None:
    shot, images, _ = cycles_shot
    avatar = images["avatar_alone"]
    alpha = avatar[..., 3:4]
    expected = avatar[..., :3] + (1.0 - alpha) * images["scene_with_shadow"][..., :3]
    composite = images["composite"][..., :3]
    uncovered = ~box_mask(alpha.shape[:2], box_pixels(shot, shot.cube), grow=2)
    touched = uncovered & (alpha[..., 0] > 0.01)
    assert touched.sum() > 300  # the avatar fills a good part of the frame
    assert psnr(composite[touched], expected[touched]) >= 40.0
    opaque = uncovered & (alpha[..., 0] > 0.995)
    assert psnr(composite[opaque], avatar[..., :3][opaque]) >= 40.0
    # The soft silhouette over the light wall: no halo and no dark fringe.
    band = uncovered & (alpha[..., 0] > 0.02) & (alpha[..., 0] < 0.98)
    assert band.sum() > 50
    assert np.abs(composite[band] - expected[band]).max() < 0.01


def test_the_cube_hides_the_avatar(cycles_shot) -> None:
    shot, images, _ = cycles_shot
    x0, y0, x1, y1 = box_pixels(shot, shot.cube)
    inner = (slice(y0 + 2, y1 - 2), slice(x0 + 2, x1 - 2))  # the cube's face, away from its edges
    composite, scene = images["composite"][inner][..., :3], images["scene_alone"][inner][..., :3]
    assert images["avatar_alone"][inner][..., 3].max() > 0.5  # the avatar is behind this part
    assert psnr(composite, scene) >= 40.0


def shadow_pixel(shot: Shot) -> tuple[int, int]:
    """Where the sun's ray through the avatar's centre meets the floor, in pixels (x, row)."""
    sun = shot.scene.objects["Sun"]
    direction = np.array(sun.matrix_world.to_3x3() @ Vector((0.0, 0.0, -1.0)))
    floor_top = shot.floor.location.z + 0.5 * shot.floor.scale.z
    t = (floor_top - shot.centre[2]) / direction[2]
    point = Vector(shot.centre + t * direction)
    u, v, _ = world_to_camera_view(shot.scene, shot.camera, point)
    return int(u * shot.scene.render.resolution_x), int((1 - v) * shot.scene.render.resolution_y)


def test_the_avatar_casts_a_shadow_on_the_floor(cycles_shot) -> None:
    shot, images, _ = cycles_shot
    x, row = shadow_pixel(shot)
    window = (slice(row - 2, row + 3), slice(x - 4, x + 5))
    assert images["avatar_alone"][window][..., 3].max() < 0.01  # the floor itself, not the avatar
    lit = images["scene_alone"][window][..., :3].mean()
    shadowed = images["composite"][window][..., :3].mean()
    assert shadowed < 0.6 * lit


def test_the_render_leaves_the_scene_as_it_was(cycles_shot) -> None:
    shot, _, before = cycles_shot
    assert len(bpy.data.node_groups) == before["node_groups"]
    assert len(bpy.data.objects) == before["objects"]
    assert len(bpy.data.scenes) == before["scenes"]
    scene = shot.scene
    assert scene.compositing_node_group is None
    assert scene.render.use_compositing == before["use_compositing"]
    session = addon_module("blender.shot.session")
    assert not session.is_active(scene)


@pytest.mark.slow
def test_eevee_shot(addon, tmp_path) -> None:
    """The same shot in EEVEE (slow here: software OpenGL)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    shot = build_shot("BLENDER_EEVEE", samples=4)
    images = four_renders(shot, tmp_path)
    avatar = images["avatar_alone"]
    alpha = avatar[..., 3:4]
    expected = avatar[..., :3] + (1.0 - alpha) * images["scene_with_shadow"][..., :3]
    uncovered = ~box_mask(alpha.shape[:2], box_pixels(shot, shot.cube), grow=2)
    touched = uncovered & (alpha[..., 0] > 0.01)
    assert psnr(images["composite"][..., :3][touched], expected[touched]) >= 40.0
    x0, y0, x1, y1 = box_pixels(shot, shot.cube)
    inner = (slice(y0 + 2, y1 - 2), slice(x0 + 2, x1 - 2))
    assert psnr(images["composite"][inner][..., :3], images["scene_alone"][inner][..., :3]) >= 40.0
    x, row = shadow_pixel(shot)
    window = (slice(row - 2, row + 3), slice(x - 4, x + 5))
    assert images["composite"][window][..., :3].mean() < 0.8 * images["scene_alone"][window][..., :3].mean()
