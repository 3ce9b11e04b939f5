"""The avatar layer: a temporary scene that shows the shot's objects to the GAVATAR engine.

A Render Layers node that names another scene makes Blender render that scene, with its own
engine, at the frame, resolution and border of the render in progress; this scene is how the
splat objects of a Cycles or EEVEE shot get drawn by our engine. It links the shot's collections
(no copies), looks through the shot's camera and draws splat objects only, on a transparent film
with the Depth pass."""

from __future__ import annotations

import bpy
from bpy.types import Scene

from ...engine.passes import outputs as pass_outputs
from ...engine.settings import engine_settings
from ...engine.splats import data as splat_data

LAYER_PREFIX = ".GAVATAR layer of "

# Render settings the layer takes from the shot: size, aspect, border, frame rate, motion blur.
COPIED_RENDER_SETTINGS = (
    "resolution_x",
    "resolution_y",
    "resolution_percentage",
    "pixel_aspect_x",
    "pixel_aspect_y",
    "use_border",
    "border_min_x",
    "border_max_x",
    "border_min_y",
    "border_max_y",
    "use_crop_to_border",
    "fps",
    "fps_base",
    "use_motion_blur",
    "motion_blur_shutter",
    "motion_blur_position",
)


def layer_name(scene: Scene) -> str:
    return LAYER_PREFIX + scene.name


def splat_objects(scene: Scene) -> list[bpy.types.Object]:
    """The splat objects a render of scene would show: in a view layer used for rendering (not in
    an excluded collection), not hidden from renders."""
    found: dict[str, bpy.types.Object] = {}
    for view_layer in scene.view_layers:
        if not view_layer.use:
            continue
        for obj in view_layer.objects:
            if splat_data.is_splat_object(obj) and not obj.hide_render:
                found[obj.name] = obj
    return list(found.values())


def create_layer_scene(scene: Scene) -> Scene:
    """A new layer scene for scene (an old one of the same name is replaced)."""
    old = bpy.data.scenes.get(layer_name(scene))
    if old is not None:
        bpy.data.scenes.remove(old)
    layer = bpy.data.scenes.new(layer_name(scene))
    for child in scene.collection.children:
        layer.collection.children.link(child)
    for obj in scene.collection.objects:
        layer.collection.objects.link(obj)
    _copy_exclusions(scene.view_layers[0].layer_collection, layer.view_layers[0].layer_collection)
    layer.render.engine = "GAVATAR"  # type: ignore[assignment]  # the stub lists built-in engines only
    layer.render.film_transparent = True
    layer.render.use_compositing = False
    layer.render.use_sequencer = False
    layer.view_layers[0].use_pass_z = True
    for spec in pass_outputs.SUPPORTED:  # the avatar's counterparts of the shot's passes
        if any(getattr(view_layer, spec.flag) for view_layer in scene.view_layers):
            setattr(layer.view_layers[0], spec.flag, True)
    sync_layer_scene(scene, layer)
    return layer


def _copy_exclusions(source: bpy.types.LayerCollection, target: bpy.types.LayerCollection) -> None:
    """The shot's first view layer's excluded collections, so an avatar the shot leaves out stays
    out of the layer too."""
    for child in source.children:
        twin = target.children.get(child.name)
        if twin is None:
            continue
        twin.exclude = child.exclude
        if not child.exclude:
            _copy_exclusions(child, twin)


def sync_layer_scene(scene: Scene, layer: Scene) -> None:
    """Gives layer the shot's camera, frame and render settings (each frame: markers may switch
    cameras, and settings may be animated)."""
    layer.camera = scene.camera
    for name in COPIED_RENDER_SETTINGS:
        setattr(layer.render, name, getattr(scene.render, name))
    # Blender renders the layer at the shot's frame; the subframe is set here for motion blur.
    layer.frame_current = scene.frame_current
    layer.frame_subframe = scene.frame_subframe
    source, target = engine_settings(scene), engine_settings(layer)
    target.deform_device = source.deform_device
    target.sort_device = source.sort_device
    target.blur_samples = source.blur_samples
    target.draw_scene_meshes = False
    shot_settings = getattr(scene, "gavatar", None)
    if shot_settings is not None:
        layer.gavatar.splat_scale = shot_settings.splat_scale  # type: ignore[attr-defined]


def remove_layer_scene(layer: Scene) -> None:
    bpy.data.scenes.remove(layer)
