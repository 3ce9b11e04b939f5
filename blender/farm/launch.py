"""Starting a distributed render from the open file: a temporary copy of the .blend for the
workers (the user's file is never written or changed), the frames still missing in the scene's
output path, and one background Blender per chunk (core/farm/runner.py runs them).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import bpy
from bpy.types import Scene

from ...core.farm.commands import WorkerArgs, blender_command, bpy_command
from ...core.farm.frames import format_frames, frame_list
from ...core.farm.plan import RenderPlan, plan_render
from ...core.farm.runner import FarmRun
from ...engine.installed_engines import available_engines


class FarmSetupError(ValueError):
    """The render cannot be distributed as asked (one sentence for the user)."""


@dataclass
class DistributedRequest:
    frame_start: int
    frame_end: int
    frame_step: int = 1
    workers: int = 2
    chunk_size: int = 0  # 0: one chunk per worker
    overwrite: bool = False
    engine: str = "GAVATAR"  # empty: the scene's
    blender: str = ""  # a Blender binary; empty: this Blender, or the bpy module's Python
    retries: int = 1


@dataclass
class LocalFarm:
    run: FarmRun
    plan: RenderPlan
    scene_name: str
    output: str
    temp_dir: str
    launcher: str  # "blender" or "bpy"
    cleaned: bool = field(default=False)

    def cleanup(self) -> str:
        """Removes the temporary .blend; keeps the worker logs when a chunk failed (their folder
        is returned then, else '')."""
        if self.cleaned:
            return self.temp_dir if self.run.failed else ""
        self.cleaned = True
        if self.run.failed:
            for blend in Path(self.temp_dir).glob("*.blend*"):
                blend.unlink(missing_ok=True)
            return self.temp_dir
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        return ""


def absolute_output(scene: Scene) -> str:
    """The scene's output path, absolute on this machine, keeping a trailing separator (a folder:
    Blender then names the files by frame number alone)."""
    raw = scene.render.filepath
    path = os.path.abspath(bpy.path.abspath(raw))
    if raw.endswith(("/", "\\")):
        path += os.sep
    return path


def frame_paths(scene: Scene, frames: list[int]) -> dict[int, str]:
    """Blender's own names for the frames' files (absolute)."""
    return {f: os.path.abspath(bpy.path.abspath(scene.render.frame_path(frame=f))) for f in frames}


def check_scene(scene: Scene, engine: str) -> None:
    if scene.camera is None:
        raise FarmSetupError("The scene has no camera to render from.")
    if scene.render.is_movie_format:
        raise FarmSetupError(
            "A video cannot be split across workers: choose an image format (PNG, EXR...) as the "
            "output and encode the frames afterwards."
        )
    if engine and engine not in available_engines():
        raise FarmSetupError(f"There is no render engine '{engine}'.")


def save_copy(target: str) -> str:
    """Writes the open file, as it is now, to target; the open file keeps its path and state."""
    # copy=True: the session keeps its own file path and unsaved state; relative_remap keeps
    # relative paths (images, caches) pointing at the same files from the new folder.
    bpy.ops.wm.save_as_mainfile(filepath=target, copy=True, check_existing=False, relative_remap=True)
    if not os.path.isfile(target):
        raise FarmSetupError(f"Could not write the copy of the scene for the workers to '{target}'.")
    return target


def file_stem() -> str:
    return Path(bpy.data.filepath).stem if bpy.data.filepath else "untitled"


def blender_binary(explicit: str) -> str:
    """The Blender to launch workers with: the given one, else this Blender; '' for the bpy module
    (its sys.executable is a plain Python that can import bpy)."""
    if explicit:
        path = bpy.path.abspath(explicit)
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise FarmSetupError(f"'{path}' is not a Blender program that can be run.")
        return path
    return bpy.app.binary_path or ""


def start_local_render(
    scene: Scene, request: DistributedRequest, addon_module: str
) -> LocalFarm | RenderPlan:
    """Starts the workers; returns the plan alone when every frame is already on disk."""
    check_scene(scene, request.engine)
    frames = frame_list(request.frame_start, request.frame_end, request.frame_step)
    output = absolute_output(scene)
    paths = frame_paths(scene, frames)
    plan = plan_render(
        frames, paths, workers=request.workers, chunk_size=request.chunk_size, overwrite=request.overwrite
    )
    if not plan.chunks:
        return plan
    try:
        Path(paths[plan.chunks[0][0]]).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FarmSetupError(f"Cannot write renders to '{output}': {exc.strerror or exc}.") from None
    temp_dir = tempfile.mkdtemp(prefix="gavatar-farm-")
    try:
        blend = save_copy(os.path.join(temp_dir, f"{file_stem()}.farm.blend"))
        blender = blender_binary(request.blender)
    except (FarmSetupError, RuntimeError) as exc:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise FarmSetupError(str(exc)) from None

    def command(frames: list[int], *, blender: str) -> list[str]:
        args = WorkerArgs(
            frames=format_frames(frames),
            output=output,
            engine=request.engine,
            scene=scene_name,
            overwrite=request.overwrite,
        )
        if blender:
            return blender_command(blender, blend, args)
        return bpy_command(sys.executable, addon_module, blend, args)

    scene_name = scene.name
    run = FarmRun(
        plan.chunks,
        partial(command, blender=blender),
        workers=request.workers,
        retries=request.retries,
        log_dir=os.path.join(temp_dir, "logs"),
        frame_paths=paths,
    )
    return LocalFarm(run, plan, scene_name, output, temp_dir, "blender" if blender else "bpy")
