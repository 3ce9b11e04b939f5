"""The ``GAVATAR`` render engine: Gaussians live in the viewport and in F12 renders.

Both paths draw the same frame (engine/frame.py): scene meshes in solid shading, then
every splat object projected, depth-sorted and drawn back to front over them, composited in
display (sRGB) values and converted into Blender's scene-linear buffers. render() fills the
Combined pass (film transparency honoured) and the Depth pass, for the scene camera at the
render resolution and percentage, within the render border; view_draw() hands the same image to
Blender's display transform.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np
from bpy.types import Context, Depsgraph, RenderEngine, Scene
from gpu_extras.presets import draw_texture_2d

from ..core import lens, render_passes
from ..core.cameras import ViewCamera
from . import blur, frame, scene_camera
from . import settings as engine_settings_module
from . import shaders as shader_cache
from .gpu.api import compute_supported, gpu
from .passes import outputs as pass_outputs
from .passes import vector as vector_pass
from .scene_sync import SceneCache, SceneContents
from .settings import engine_settings
from .splats import data as splat_data
from .viewport import ViewportSession

NO_COMPUTE = "The Gaussian Avatar engine needs compute shaders (OpenGL 4.3, Metal or Vulkan)"


def world_color(scene: Scene) -> tuple[float, float, float]:
    world = scene.world
    if world is None:
        return (0.0, 0.0, 0.0)
    c = world.color
    return (c.r, c.g, c.b)


def background_srgb(scene: Scene) -> tuple[float, float, float] | None:
    """The display colour behind the Gaussians, or None for a transparent film."""
    if scene.render.film_transparent:
        return None
    return frame.background_from_world_color(world_color(scene))


def splat_scale(scene: Scene) -> float:
    settings = getattr(scene, "gavatar", None)
    return float(getattr(settings, "splat_scale", 1.0))


def sync_scene(
    cache: SceneCache, depsgraph: Depsgraph, *, deform: bool = True, meshes: bool | None = None
) -> SceneContents:
    """meshes: also the scene's meshes (None: as the engine settings say)."""
    scene = depsgraph.scene_eval or depsgraph.scene
    assert scene is not None
    settings = engine_settings(scene)
    return cache.sync(
        depsgraph,
        deform=deform,
        deform_device=settings.deform_device,
        sort_device=settings.sort_device,
        splat_scale=splat_scale(scene),
        meshes=settings.draw_scene_meshes if meshes is None else meshes,
    )


def extra_passes(
    scene: Scene, targets: frame.FrameTargets, camera: ViewCamera, specs: list[pass_outputs.PassSpec]
) -> dict[str, np.ndarray]:
    """The enabled passes beyond Combined, as Blender's pass arrays (row 0 at the bottom)."""
    names = {spec.name for spec in specs}
    images: dict[str, np.ndarray] = {}
    depth = frame.read_depth(targets)
    if "Depth" in names:
        images["Depth"] = depth
    if "Mist" in names:
        mist_settings = scene.world.mist_settings if scene.world is not None else None
        start, length, falloff = (
            (mist_settings.start, mist_settings.depth, mist_settings.falloff)
            if mist_settings is not None
            else (5.0, 25.0, "QUADRATIC")  # Blender's defaults
        )
        # Mist uses the distance from the camera (the depth itself for orthographic cameras).
        distance = depth if camera.orthographic else render_passes.ray_distance(depth[::-1], camera.K)[::-1]
        images["Mist"] = render_passes.mist(distance, frame.read_coverage(targets), start, length, falloff)
    if "Normal" in names:
        images["Normal"] = render_passes.camera_to_world_normals(
            frame.read_camera_normals(targets), camera.world_to_camera
        )
    if "IndexOB" in names:
        images["IndexOB"] = frame.read_object_index(targets)
    if "Vector" in names:
        images["Vector"] = frame.read_vector(targets)
    return images


class GAVATAR_RenderEngine(RenderEngine):
    bl_idname = "GAVATAR"
    bl_label = "Gaussian Avatar"
    bl_use_preview = False
    bl_use_gpu_context = True
    bl_use_eevee_viewport = False
    bl_use_postprocess = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._viewport = ViewportSession()

    # ------------------------------------------------------------------ final render
    def update_render_passes(self, scene: Scene | None = None, renderlayer: Any = None) -> None:
        self.register_pass(scene, renderlayer, "Combined", 4, "RGBA", "COLOR")
        for spec in pass_outputs.enabled(renderlayer):
            self.register_pass(scene, renderlayer, spec.name, spec.channels, spec.chan_id, spec.kind)

    def render(self, depsgraph: Depsgraph) -> None:  # type: ignore[override]
        scene = depsgraph.scene
        assert scene is not None
        if not compute_supported():
            self.report({"ERROR"}, NO_COMPUTE)
            return
        width, height = scene_camera.render_size(scene)
        border = scene_camera.border_rect(scene, width, height)
        left, bottom, w, h = border if border is not None else (0, 0, width, height)
        targets = frame.FrameTargets(w, h)
        cache = SceneCache()
        problems: set[str] = set()

        def view() -> ViewCamera:
            camera = scene_camera.scene_camera(depsgraph, scene)
            return camera.crop(left, height - bottom - h, w, h)

        def draw(
            aperture: np.ndarray | None = None, focus: float = 1.0, motions: dict[str, Any] | None = None
        ) -> ViewCamera:
            """One pinhole image at the depsgraph's current time into targets; its camera."""
            camera = view()
            if aperture is not None:
                camera = lens.lens_camera(camera, aperture, focus)
            contents = sync_scene(cache, depsgraph)
            problems.update(contents.problems)
            for splat in contents.splats:
                splat.motion = (motions or {}).get(splat.name)
            frame.render_frame(
                targets,
                camera,
                background_srgb=background_srgb(scene),
                meshes=contents.meshes,
                splats=contents.splats,
            )
            return camera

        try:
            blur_plan = blur.plan(scene, depsgraph, engine_settings(scene).blur_samples)
            combined = None
            if blur_plan is not None:
                combined = self._accumulate(blur_plan, draw, targets, scene)
            specs = pass_outputs.enabled(depsgraph.view_layer)
            motions = None
            if any(spec.name == "Vector" for spec in specs):
                motions = self._splat_motions(view, cache, depsgraph, scene)
            # The pinhole image at the frame: the passes (and Combined without blur).
            camera = draw(motions=motions) if combined is None or specs else view()
        except RuntimeError as error:
            self.report({"ERROR"}, str(error))
            return
        for problem in sorted(problems):  # a broken avatar is skipped; the rest of the scene renders
            self.report({"WARNING"}, problem)
        view_layer = depsgraph.view_layer
        missing = pass_outputs.unsupported(view_layer)
        if missing:
            self.report({"WARNING"}, pass_outputs.unsupported_message(missing))
        images = {"Combined": frame.read_combined(targets) if combined is None else combined}
        images.update(extra_passes(scene, targets, camera, specs))
        result = self.begin_result(0, 0, w, h)
        for render_pass in result.layers[0].passes:
            image = images.get(render_pass.name)
            if image is not None:
                render_pass.rect.foreach_set(np.ascontiguousarray(image, dtype=np.float32).ravel())  # type: ignore[attr-defined]
        self.end_result(result)

    def _splat_motions(
        self, view: Any, cache: SceneCache, depsgraph: Depsgraph, scene: Scene
    ) -> dict[str, Any]:
        """The Vector pass textures of the splat objects: projected at the previous, current and
        next frame (rig and camera evaluated at each)."""
        frame_now, subframe_now = scene.frame_current, scene.frame_subframe
        centres = []
        for offset in (-1, 1, 0):  # ends at the frame being rendered
            self.frame_set(frame_now + offset, subframe_now)
            contents = sync_scene(cache, depsgraph)
            centres.append(vector_pass.splat_centres(contents.splats, view()))
        previous, following, current = centres
        return vector_pass.motion_textures(previous, current, following)

    def _accumulate(
        self, blur_plan: blur.BlurPlan, draw: Any, targets: frame.FrameTargets, scene: Scene
    ) -> np.ndarray:
        """The mean Combined image over the plan's aperture points and shutter times; leaves the
        depsgraph at the frame being rendered."""
        frame_now, subframe_now = scene.frame_current, scene.frame_subframe
        total: np.ndarray | None = None
        k = 0
        for k in range(blur_plan.count):
            if blur_plan.times[k] != 0.0:
                self.frame_set(*blur.frame_and_subframe(frame_now, subframe_now, float(blur_plan.times[k])))
            aperture = blur_plan.offsets[k] if blur_plan.offsets.any() else None
            draw(aperture, blur_plan.focus_distance)
            image = frame.read_combined(targets)
            total = image.astype(np.float64) if total is None else total + image
            if self.test_break():
                break
        if blur_plan.times.any():
            self.frame_set(frame_now, subframe_now)
        assert total is not None
        return (total / (k + 1)).astype(np.float32)

    # ------------------------------------------------------------------ viewport
    def view_update(self, context: Context, depsgraph: Depsgraph | None) -> None:
        if depsgraph is not None:
            self._viewport.note_update(depsgraph)

    def view_draw(self, context: Context, depsgraph: Depsgraph | None) -> None:
        if depsgraph is None or not compute_supported():
            return
        scene = depsgraph.scene
        assert scene is not None
        camera = scene_camera.viewport_camera(context)
        image = self._viewport.draw(depsgraph, camera, background_srgb(scene), sync_scene)
        gpu.state.blend_set("ALPHA_PREMULT")
        self.bind_display_space_shader(scene)
        draw_texture_2d(image, (0, 0), camera.width, camera.height)
        self.unbind_display_space_shader()
        gpu.state.blend_set("NONE")


# Blender's own property panels that apply to this engine: output, format, film, colour, camera.
_PANEL_PREFIXES = (
    "RENDER_PT_format",
    "RENDER_PT_frame_range",
    "RENDER_PT_output",
    "RENDER_PT_encoding",
    "RENDER_PT_film",
    "RENDER_PT_color_management",
    "RENDER_PT_stereoscopy",
    "DATA_PT_lens",
    "DATA_PT_camera",
    "RENDER_PT_time_stretching",
    "RENDER_PT_post_processing",
    "VIEWLAYER_PT_layer_passes",
    "VIEWLAYER_PT_eevee_layer_passes_data",
)


def _compatible_panels() -> list[Any]:
    return [
        panel
        for panel in bpy.types.Panel.__subclasses__()
        if panel.__name__.startswith(_PANEL_PREFIXES)
        and isinstance(getattr(panel, "COMPAT_ENGINES", None), set)
    ]


def register() -> None:
    # The splat data and engine settings property groups come with the engine.
    splat_data.register()
    engine_settings_module.register()
    bpy.utils.register_class(GAVATAR_RenderEngine)
    for panel in _compatible_panels():
        panel.COMPAT_ENGINES.add(GAVATAR_RenderEngine.bl_idname)


def unregister() -> None:
    for panel in _compatible_panels():
        panel.COMPAT_ENGINES.discard(GAVATAR_RenderEngine.bl_idname)
    bpy.utils.unregister_class(GAVATAR_RenderEngine)
    shader_cache.clear()
    frame.release()
    engine_settings_module.unregister()
    splat_data.unregister()
