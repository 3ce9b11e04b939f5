"""Colour (real bpy, real F12): a new scene starts with Blender's AgX view transform, which greys a
white background, and dithers; choosing the Gaussian Avatar engine switches the scene to Standard
without dither (once, and says so), so a white world renders white (1.0) in the saved PNG. A later
choice of the user stays, and the one-click operator brings Standard back."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest
from PIL import Image

from tests.fixtures.engine import addon_module


def _new_scene_white_world() -> bpy.types.Scene:
    bpy.ops.scene.new(type="NEW")  # Blender's default settings for a new scene
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 16, 12
    scene.render.resolution_percentage = 100
    scene.world = bpy.data.worlds.new("White")
    scene.world.color = (1.0, 1.0, 1.0)
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    scene.render.image_settings.file_format = "PNG"
    return scene


def _f12(scene: bpy.types.Scene, path: Path) -> np.ndarray:
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True, scene=scene.name)
    return np.asarray(Image.open(path), dtype=np.float64)[..., :3] / 255.0


def test_a_white_world_renders_white_once_the_engine_is_chosen(
    addon: str, clean_scene: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scene = _new_scene_white_world()
    assert scene.view_settings.view_transform == "AgX"  # what a new scene starts with
    scene.render.engine = "GAVATAR"  # as a script or the Render Engine menu sets it
    bpy.context.view_layer.update()
    assert scene.view_settings.view_transform == "Standard" and scene.render.dither_intensity == 0.0
    assert "set the scene's view transform to Standard" in capsys.readouterr().out
    image = _f12(scene, tmp_path / "white.png")
    assert np.all(image == 1.0)


def test_f12_right_after_choosing_the_engine_is_white_too(
    addon: str, clean_scene: None, tmp_path: Path
) -> None:
    scene = _new_scene_white_world()
    scene.render.engine = "GAVATAR"
    image = _f12(scene, tmp_path / "white.png")  # no update in between: the render start sees it
    assert np.all(image == 1.0)


def test_the_users_later_choice_stays_and_the_button_restores_standard(
    addon: str, clean_scene: None, tmp_path: Path
) -> None:
    scene = _new_scene_white_world()
    scene.render.engine = "GAVATAR"
    bpy.context.view_layer.update()
    scene.view_settings.view_transform = "AgX"  # the user wants it, on purpose
    bpy.context.view_layer.update()
    view_transform = addon_module("engine.view_transform")
    assert scene.view_settings.view_transform == "AgX" and not view_transform.shows_display_values(scene)
    grey = _f12(scene, tmp_path / "agx.png")
    assert grey.max() < 0.95  # what the issue saw: AgX greys the white background
    assert bpy.ops.gavatar.use_standard_view() == {"FINISHED"}
    assert view_transform.shows_display_values(scene)
    assert np.all(_f12(scene, tmp_path / "standard.png") == 1.0)
