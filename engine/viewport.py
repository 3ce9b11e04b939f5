"""The viewport side of the engine, apart from Blender's callbacks so it can be driven directly.

view_update() only notes what changed (it may run where drawing is not allowed); the next
view_draw() deforms (frame, pose or data changed), projects and sorts (the view changed) and draws.
A redraw with nothing changed reuses the last image.
"""

from __future__ import annotations

import numpy as np
from bpy.types import Depsgraph

from ..core.cameras import ViewCamera
from . import frame
from .gpu.api import Texture
from .scene_sync import SceneCache, SceneContents


def _camera_key(camera: ViewCamera, background: tuple[float, float, float] | None) -> tuple[object, ...]:
    return (
        tuple(np.round(camera.world_to_camera, 12).ravel()),
        camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height,
        camera.orthographic, camera.near, camera.far, background,
    )  # fmt: skip


class ViewportSession:
    def __init__(self) -> None:
        self.cache = SceneCache()
        self.contents: SceneContents | None = None
        self.targets: frame.FrameTargets | None = None
        self._dirty = True
        self._drawn_key: tuple[object, ...] | None = None
        self.reported: set[str] = set()

    def note_update(self, depsgraph: Depsgraph) -> None:
        self.cache.note_updates(depsgraph)
        self._dirty = True

    def draw(
        self,
        depsgraph: Depsgraph,
        camera: ViewCamera,
        background_srgb: tuple[float, float, float] | None,
        sync: object,
    ) -> Texture:
        """The viewport image (scene-linear, premultiplied) for camera; ``sync(cache, depsgraph)``
        gathers the scene (render_engine.sync_scene)."""
        if self._dirty or self.contents is None:
            self.contents = sync(self.cache, depsgraph)  # type: ignore[operator]
            self._dirty = False
            self._drawn_key = None
            for problem in self.contents.problems:
                if problem not in self.reported:  # once per problem, not on every redraw
                    print(f"Gaussian Avatar: {problem}")
                    self.reported.add(problem)
        key = _camera_key(camera, background_srgb)
        if self.targets is None or not self.targets.fits(camera.width, camera.height):
            self.targets = frame.FrameTargets(camera.width, camera.height)
            self._drawn_key = None
        if key != self._drawn_key:
            frame.render_frame(
                self.targets,
                camera,
                background_srgb=background_srgb,
                meshes=self.contents.meshes,
                splats=self.contents.splats,
            )
            self._drawn_key = key
        return self.targets.linear
