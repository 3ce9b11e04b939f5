"""Rendering a frame range through Blender's own animation render and output settings.

``render_frames`` runs ``bpy.ops.render.render(animation=True)`` (what Ctrl+F12 does, blocking), so
every format Blender writes works: image sequences (PNG...), multilayer EXR with the depth pass,
FFmpeg video. Optional overrides (range, output path, format, engine) are applied for the run and
put back afterwards; progress comes from the render_write / render_post handlers, frame by frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
from bpy.types import Context, Scene

from ...engine.installed_engines import available_engines
from .errors import AnimateError

FORMATS = ("SCENE", "PNG", "OPEN_EXR_MULTILAYER", "FFMPEG")


@dataclass
class SequenceRequest:
    frame_start: int
    frame_end: int
    frame_step: int = 1
    filepath: str = ""  # empty: the scene's output path
    file_format: str = "SCENE"  # one of FORMATS
    engine: str = ""  # empty: the scene's render engine


@dataclass
class SequenceResult:
    frames: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def seconds_per_frame(self) -> float:
        return self.seconds / max(len(self.frames), 1)


class _Overrides:
    """Sets scene/render attributes for one run and puts back the values they had before the first
    change (Blender moves some by itself: a media type resets the format, a format the colour depth)."""

    # Restored first, in this order: each limits what the next may be.
    _ORDER = ("media_type", "file_format", "color_mode", "color_depth")

    def __init__(self) -> None:
        self._saved: dict[tuple[int, str], tuple[Any, str, Any]] = {}

    def remember(self, owner: Any, *names: str) -> None:
        for name in names:
            if hasattr(owner, name):
                self._saved.setdefault((id(owner), name), (owner, name, getattr(owner, name)))

    def set(self, owner: Any, name: str, value: Any) -> None:
        self.remember(owner, name)
        setattr(owner, name, value)

    def restore(self) -> None:
        def rank(item: tuple[Any, str, Any]) -> int:
            return self._ORDER.index(item[1]) if item[1] in self._ORDER else len(self._ORDER)

        for owner, name, value in sorted(self._saved.values(), key=rank):
            setattr(owner, name, value)


# Blender 5 sorts formats under media types; older versions have no media_type.
_MEDIA_TYPES = {"PNG": "IMAGE", "OPEN_EXR_MULTILAYER": "MULTI_LAYER_IMAGE", "FFMPEG": "VIDEO"}


def _apply_format(overrides: _Overrides, scene: Scene, file_format: str) -> None:
    settings = scene.render.image_settings
    if file_format == "SCENE":
        return
    if file_format not in _MEDIA_TYPES:
        raise AnimateError(f"Unknown output format '{file_format}'; choose one of {', '.join(FORMATS)}.")
    overrides.remember(settings, "media_type", "file_format", "color_mode", "color_depth")
    if hasattr(settings, "media_type"):
        overrides.set(settings, "media_type", _MEDIA_TYPES[file_format])
    overrides.set(settings, "file_format", file_format)
    if file_format == "PNG":
        overrides.set(settings, "color_mode", "RGBA")  # alpha kept, as the farm's PNGs keep it
    elif file_format == "OPEN_EXR_MULTILAYER":
        overrides.set(settings, "color_depth", "32")
        for layer in scene.view_layers:
            overrides.set(layer, "use_pass_z", True)  # depth travels in the multilayer file
    else:
        overrides.set(scene.render.ffmpeg, "format", "MPEG4")
        overrides.set(scene.render.ffmpeg, "codec", "H264")
        overrides.set(settings, "color_mode", "RGB")


def render_frames(
    context: Context, request: SequenceRequest, progress: Callable[[int, int, int], None] | None = None
) -> SequenceResult:
    """Renders request's frames with Blender's animation render; progress(k, n, frame) after each frame."""
    scene = context.scene
    assert scene is not None
    if request.frame_end < request.frame_start:
        raise AnimateError(f"The frame range {request.frame_start}..{request.frame_end} is empty.")
    if request.frame_step < 1:
        raise AnimateError("The frame step must be at least 1.")
    if scene.camera is None:
        raise AnimateError("The scene has no camera to render from.")
    if request.engine and request.engine not in available_engines():
        raise AnimateError(f"There is no render engine '{request.engine}'.")
    frames = list(range(request.frame_start, request.frame_end + 1, request.frame_step))
    result = SequenceResult()
    overrides = _Overrides()
    render = scene.render
    current = scene.frame_current

    def written(_scene: Scene, *_args: Any) -> None:
        frame = _scene.frame_current
        result.frames.append(frame)
        result.files.append(bpy.path.abspath(_scene.render.frame_path(frame=frame)))
        if progress is not None:
            progress(len(result.frames), len(frames), frame)

    def cancelled(_scene: Scene, *_args: Any) -> None:
        result.cancelled = True

    started = time.perf_counter()
    try:
        overrides.set(scene, "frame_start", request.frame_start)
        overrides.set(scene, "frame_end", request.frame_end)
        overrides.set(scene, "frame_step", request.frame_step)
        if request.filepath:
            overrides.set(render, "filepath", request.filepath)
        if request.engine:
            overrides.set(render, "engine", request.engine)
        _apply_format(overrides, scene, request.file_format)
        _check_output(render.filepath)
        # Temporary hooks, removed in the finally below: they only live for this render.
        bpy.app.handlers.render_write.append(written)
        bpy.app.handlers.render_cancel.append(cancelled)
        with context.temp_override(scene=scene):
            bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        for hooks, hook in (
            (bpy.app.handlers.render_write, written),
            (bpy.app.handlers.render_cancel, cancelled),
        ):
            if hook in hooks:
                hooks.remove(hook)
        if request.file_format == "FFMPEG" or render.is_movie_format:
            result.files = sorted(set(result.files))
        overrides.restore()
        scene.frame_set(current)
    result.seconds = time.perf_counter() - started
    return result


def unsaved_relative_path(filepath: str) -> str | None:
    """The sentence refusing a '//' (blend-relative) output path while the .blend is unsaved, or None:
    Blender would resolve it against the working folder and write the frames there, unseen."""
    if filepath.startswith("//") and not bpy.data.filepath:
        return (
            f"The output path '{filepath}' is relative to the .blend file ('//'), which is not saved "
            "yet: save the file first, or choose an absolute output folder."
        )
    return None


def _check_output(filepath: str) -> None:
    refusal = unsaved_relative_path(filepath)
    if refusal:
        raise AnimateError(refusal)
    folder = Path(bpy.path.abspath(filepath)).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnimateError(f"Cannot write renders to '{folder}': {exc.strerror or exc}.") from None
