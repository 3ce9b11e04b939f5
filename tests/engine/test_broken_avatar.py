"""The avatar as one thing (real bpy, real F12): hiding its splat object hides the whole avatar (no
grey driver mesh), an avatar that lost its driver mesh or its armature is skipped with a sentence
while the rest of the scene renders, and Delete Avatar removes every part, also what is left."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.engine.test_render import build_avatar, look_at, render_png, setup_scene
from tests.fixtures.engine import addon_module


@pytest.fixture
def scene_with_avatar(addon: str, clean_scene: None):  # type: ignore[no-untyped-def]
    """An avatar in its own collection beside an ordinary cube, seen by the camera."""
    parts, splat, _arrays, _model = build_avatar()
    for obj in splat.users_collection:
        obj.objects.unlink(splat)
    parts.collection.objects.link(splat)  # where Import Avatar puts it
    camera = setup_scene(48, 48)
    bpy.ops.mesh.primitive_cube_add(size=0.05, location=(0.12, 0.0, 0.0))
    look_at(camera, np.array([0.0, -0.6, 0.0]), np.zeros(3))
    return parts, splat


def _without_avatar(parts, splat, path: Path) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The scene as it should look with no avatar at all."""
    for obj in (splat, parts.mesh):
        obj.hide_render = True
    image = render_png(path)
    for obj in (splat, parts.mesh):
        obj.hide_render = False
    return image


def test_hiding_the_splat_object_hides_the_whole_avatar(scene_with_avatar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    parts, splat = scene_with_avatar
    whole = render_png(tmp_path / "whole.png")
    empty = _without_avatar(parts, splat, tmp_path / "empty.png")
    assert np.abs(whole - empty).max() > 0.2  # the avatar is in view
    splat.hide_render = True
    assert np.array_equal(render_png(tmp_path / "hidden.png"), empty)  # no grey driver mesh


@pytest.mark.parametrize("part", ["driver mesh", "armature"])
def test_an_avatar_missing_a_part_is_skipped_with_a_sentence(
    scene_with_avatar, tmp_path: Path, part: str, capfd: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    parts, splat = scene_with_avatar
    name = parts.collection.name
    empty = _without_avatar(parts, splat, tmp_path / "empty.png")
    bpy.data.objects.remove(parts.mesh if part == "driver mesh" else parts.armature)
    problem = addon_module("engine.splats.integrity").avatar_problem(splat)
    assert problem and ("lost the driver mesh" if part == "driver mesh" else "armature") in problem
    capfd.readouterr()
    image = render_png(tmp_path / "broken.png")  # F12 still works for the rest of the scene
    assert "It is skipped" in capfd.readouterr().out
    assert np.array_equal(image, empty)  # no smeared avatar, no grey driver mesh; the cube renders
    bpy.context.view_layer.objects.active = splat
    assert bpy.ops.gavatar.delete_avatar() == {"FINISHED"}
    assert not [o for o in bpy.data.objects if o.name != "Camera" and o.name != "Cube"]
    assert name not in bpy.data.collections


def test_delete_avatar_from_any_part(scene_with_avatar) -> None:  # type: ignore[no-untyped-def]
    parts, _splat = scene_with_avatar
    name = parts.collection.name
    bpy.context.view_layer.objects.active = parts.armature
    assert bpy.ops.gavatar.delete_avatar() == {"FINISHED"}
    assert {o.name for o in bpy.data.objects} == {"Camera", "Cube"}
    assert name not in bpy.data.collections
