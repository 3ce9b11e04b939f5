"""The shot composite with the user's own compositor nodes, camera settings and animation."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from tests.fixtures.engine import addon_module, static_arrays
from tests.fixtures.shot import build_shot, read_exr, render_linear, render_pass


def user_tree(scene: bpy.types.Scene) -> bpy.types.NodeTree:
    """Render Layers -> Exposure (+1 stop) -> output; the Vector pass to a Viewer."""
    scene.view_layers[0].use_pass_vector = True
    tree = bpy.data.node_groups.new("User compositing", "CompositorNodeTree")
    tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    layers = tree.nodes.new("CompositorNodeRLayers")
    layers.scene = scene
    layers.layer = scene.view_layers[0].name
    exposure = tree.nodes.new("CompositorNodeExposure")
    exposure.inputs["Exposure"].default_value = 1.0
    output = tree.nodes.new("NodeGroupOutput")
    viewer = tree.nodes.new("CompositorNodeViewer")
    tree.links.new(layers.outputs["Image"], exposure.inputs["Image"])
    tree.links.new(exposure.outputs["Image"], output.inputs[0])
    tree.links.new(layers.outputs["Vector"], viewer.inputs[0])
    scene.compositing_node_group = tree
    return tree


def links_of(tree: bpy.types.NodeTree) -> set[tuple[str, str, str, str]]:
    return {
        (k.from_node.name, k.from_socket.identifier, k.to_node.name, k.to_socket.identifier)
        for k in tree.links
    }


def test_user_compositor_nodes_work_on_the_merged_image(clean_scene, tmp_path) -> None:
    shot = build_shot("CYCLES", width=64, height=48, samples=4)
    merged = render_linear(tmp_path / "merged.exr")
    tree = user_tree(shot.scene)
    nodes, links = set(tree.nodes.keys()), links_of(tree)
    brighter = render_linear(tmp_path / "brighter.exr")
    # The user's Exposure node got the merged image (avatar included): twice its colour.
    np.testing.assert_allclose(brighter[..., :3], 2.0 * merged[..., :3], rtol=1e-4, atol=1e-5)
    assert set(tree.nodes.keys()) == nodes and links_of(tree) == links  # the user's tree as it was
    assert shot.scene.compositing_node_group == tree
    messages = addon_module("blender.shot.session").last_messages(shot.scene)
    assert any("Vector pass" in m for m in messages)  # used but not merged: said, not hidden


def test_camera_shift_percentage_and_border_follow_the_shot(clean_scene, tmp_path) -> None:
    shot = build_shot("CYCLES", width=80, height=60, samples=4)
    scene = shot.scene
    shot.camera.data.shift_x, shot.camera.data.shift_y = 0.08, -0.05
    shot.camera.data.sensor_fit = "VERTICAL"
    scene.render.resolution_percentage = 50
    scene.render.use_border = True
    scene.render.border_min_x, scene.render.border_max_x = 0.2, 0.9
    scene.render.border_min_y, scene.render.border_max_y = 0.1, 0.8
    shot.cube.hide_render = True
    composite = render_linear(tmp_path / "composite.exr")
    for obj in scene.objects:
        if obj.type == "MESH" and obj not in (shot.splat, shot.driver):
            obj.hide_render = True
    scene.render.engine = "GAVATAR"
    scene.render.film_transparent = True
    avatar = render_linear(tmp_path / "avatar.exr")
    assert composite.shape == avatar.shape == (30, 40, 4)
    opaque = avatar[..., 3] > 0.995
    assert opaque.sum() > 20
    np.testing.assert_allclose(composite[opaque][:, :3], avatar[opaque][:, :3], atol=2e-3)


def test_animation_frames_follow_the_rig(clean_scene, tmp_path) -> None:
    """Ctrl+F12 through render_sequence: each frame's avatar is the one of that frame."""
    shot = build_shot("CYCLES", width=64, height=48, samples=2)
    scene = shot.scene
    rig = shot.driver.parent
    rig.location = (0.0, 0.0, 0.0)
    rig.keyframe_insert("location", frame=1)
    rig.location = (0.3 * shot.radius, 0.0, 0.0)
    rig.keyframe_insert("location", frame=2)
    stills = []
    for frame in (1, 2):
        scene.frame_set(frame)
        stills.append(render_linear(tmp_path / f"still_{frame}.exr"))  # leaves the format at EXR
    assert np.abs(stills[0] - stills[1]).max() > 0.1  # the avatar moved
    render_sequence = addon_module("blender.animate.render_sequence")
    request = render_sequence.SequenceRequest(1, 2, filepath=str(tmp_path / "seq_"))
    result = render_sequence.render_frames(bpy.context, request)
    assert result.frames == [1, 2]
    for still, path in zip(stills, result.files, strict=True):
        np.testing.assert_array_equal(read_exr(Path(path)), still)
    assert not addon_module("blender.shot.session").is_active(scene)


def test_a_shrunk_shadow_proxy_casts_a_smaller_shadow(clean_scene, tmp_path) -> None:
    shot = build_shot("CYCLES", width=64, height=48, samples=4)
    engine = shot.scene.gavatar_engine
    objects = len(bpy.data.objects)
    full = render_linear(tmp_path / "full.exr")[..., :3].mean(-1)
    engine.shadow_shrink = 0.15 * shot.radius
    shrunk = render_linear(tmp_path / "shrunk.exr")[..., :3].mean(-1)
    engine.shadow_proxy = False
    unshadowed = render_linear(tmp_path / "none.exr")[..., :3].mean(-1)
    shadow_area = [(image < 0.7 * unshadowed).sum() for image in (full, shrunk)]
    assert shadow_area[0] > 20 and 0 < shadow_area[1] < 0.8 * shadow_area[0]
    assert len(bpy.data.objects) == objects  # the shrunk copy is gone
    assert not [m for m in shot.driver.modifiers if m.name.startswith("GAVATAR")]
    assert shot.driver.visible_shadow and not shot.driver.visible_camera  # restored: a shadow proxy


def eroded(mask: np.ndarray, steps: int) -> np.ndarray:
    """mask without the pixels within steps (4-neighbour) of its edge."""
    for _ in range(steps):
        inner = mask.copy()
        inner[1:] &= mask[:-1]
        inner[:-1] &= mask[1:]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        inner[0, :] = inner[-1, :] = inner[:, 0] = inner[:, -1] = False
        mask = inner
    return mask


def test_passes_are_merged_with_the_scene(clean_scene, tmp_path) -> None:
    """Depth, Normal, the object index and Vector: the avatar's where it is solid and nearer, the
    scene's elsewhere."""
    shot = build_shot("CYCLES", width=96, height=72, samples=2)
    scene = shot.scene
    layer = scene.view_layers[0]
    layer.use_pass_z = layer.use_pass_normal = layer.use_pass_object_index = layer.use_pass_vector = True
    shot.splat.pass_index, shot.cube.pass_index = 5, 2
    rig = shot.driver.parent  # the avatar moves right: a Vector pass to merge
    for frame in (1, 3):
        rig.location.x = 0.05 * shot.radius * (frame - 2)
        rig.keyframe_insert("location", index=0, frame=frame)
    scene.frame_set(2)
    names = ("Depth", "Normal", "Object Index", "Vector")
    merged = {name: render_pass(tmp_path / f"{name}.exr", name) for name in names}
    assert addon_module("blender.shot.session").last_messages(scene) == []  # all merged
    scene.gavatar_engine.avatars_in_renders = False
    scene_only = {name: render_pass(tmp_path / f"scene_{name}.exr", name) for name in ("Depth", "Normal")}
    shot.cube.hide_render = True
    for obj in scene.objects:
        if obj.type == "MESH" and obj not in (shot.splat, shot.driver):
            obj.hide_render = True
    scene.render.engine = "GAVATAR"
    scene.render.film_transparent = True
    avatar_names = ("Depth", "Normal", "IndexOB", "Vector")
    avatar = {name: render_pass(tmp_path / f"avatar_{name}.exr", name) for name in avatar_names}
    alpha = render_linear(tmp_path / "avatar.exr")[..., 3]
    index = merged["Object Index"][..., 0]
    cube = eroded(index == 2.0, 2) & (alpha > 0.5)  # the cube in front of the avatar, off its edges
    solid = (alpha > 0.999) & (index == 5.0)
    assert solid.sum() > 100 and cube.sum() > 4
    assert (avatar["IndexOB"][..., 0][solid] == 5.0).all()
    np.testing.assert_allclose(merged["Depth"][..., 0][solid], avatar["Depth"][..., 0][solid], rtol=1e-5)
    np.testing.assert_allclose(merged["Normal"][solid][:, :3], avatar["Normal"][solid][:, :3], atol=2e-3)
    assert np.abs(avatar["Vector"][solid]).max() > 0.5  # the avatar moves
    np.testing.assert_allclose(merged["Vector"][solid], avatar["Vector"][solid], atol=1e-4)
    np.testing.assert_allclose(merged["Vector"][cube], 0.0, atol=1e-4)  # the cube stands still
    np.testing.assert_allclose(merged["Depth"][..., 0][cube], scene_only["Depth"][..., 0][cube], rtol=1e-5)
    np.testing.assert_allclose(merged["Normal"][cube][:, :3], scene_only["Normal"][cube][:, :3], atol=2e-3)


def test_an_avatar_in_an_excluded_collection_stays_out(clean_scene, tmp_path) -> None:
    """Another splat object keeps the shot's set-up on; the avatar's collection is excluded from
    the view layer: the avatar is left out of the avatar layer too."""
    shot = build_shot("CYCLES", width=48, height=36, samples=1)
    scene = shot.scene
    other = addon_module("engine.splats.data").create_splat_object("Other", static_arrays(50, 0, 1, 0.05))
    other.location = tuple(shot.centre + np.array([-1.2 * shot.radius, 0.0, 0.8 * shot.radius]))
    collection = bpy.data.collections.new("Excluded")
    scene.collection.children.link(collection)
    for owner in list(shot.splat.users_collection):
        owner.objects.unlink(shot.splat)
    collection.objects.link(shot.splat)
    with_avatar = render_linear(tmp_path / "with.exr")
    scene.view_layers[0].layer_collection.children["Excluded"].exclude = True
    excluded = render_linear(tmp_path / "excluded.exr")
    scene.view_layers[0].layer_collection.children["Excluded"].exclude = False
    shot.splat.hide_render = True
    hidden = render_linear(tmp_path / "hidden.exr")
    np.testing.assert_allclose(excluded, hidden, atol=1e-6)
    assert np.abs(with_avatar - hidden).max() > 0.1


def test_a_bound_driver_is_a_shadow_proxy_until_shown(clean_scene) -> None:
    """So Cycles/EEVEE viewports (Material Preview, Rendered) show the avatar, not its grey mesh."""
    shot = build_shot("CYCLES", width=32, height=24, samples=1)
    driver, props = shot.driver, shot.splat.gavatar_splat
    assert not driver.visible_camera and not driver.visible_glossy and driver.visible_shadow
    props.show_driver = True
    assert driver.visible_camera and driver.visible_diffuse and driver.visible_shadow
    props.show_driver = False
    assert not driver.visible_camera
