"""The worker of a distributed render: runs inside a background Blender (``blender -b FILE
--python-expr ...`` or the bpy module), renders its chunk of frames with Blender's own animation
render and prints one progress line a frame (core/farm/commands.py has the protocol).

Frames go through ``render_frames`` (what ``gavatar.render_sequence`` and Ctrl+F12 use), one
animation render per arithmetic run of the chunk's frames, into the given output path: the files
are named and written exactly as a single-process animation render names and writes them.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

import bpy

from ...core.farm.commands import WORKER_ERROR_EXIT, progress_line
from ...core.farm.frames import FrameSpecError, arithmetic_runs, parse_frames
from ...core.farm.plan import is_rendered
from ..animate.errors import AnimateError
from ..animate.render_sequence import SequenceRequest, render_frames


class WorkerError(RuntimeError):
    pass


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gaussian_avatar farm worker")
    parser.add_argument("--blend", default="", help="open this .blend first (bpy module)")
    parser.add_argument("--frames", required=True, help="frames: '1-8,10'")
    parser.add_argument("--output", default="", help="output path ('#' = frame number)")
    parser.add_argument("--engine", default="", help="render engine (empty: the scene's)")
    parser.add_argument("--scene", default="", help="scene name (empty: the file's active scene)")
    parser.add_argument("--overwrite", action="store_true", help="render frames already on disk")
    return parser.parse_args(argv)


def _say(event: str, **fields: object) -> None:
    print(progress_line(event, **fields), flush=True)


def run(options: argparse.Namespace) -> int:
    if options.blend:
        if not os.path.isfile(options.blend):
            raise WorkerError(f"the .blend '{options.blend}' does not exist")
        bpy.ops.wm.open_mainfile(filepath=options.blend, load_ui=False)
    scene = bpy.data.scenes.get(options.scene) if options.scene else bpy.context.scene
    if scene is None:
        raise WorkerError(f"the file has no scene '{options.scene}'")
    frames = parse_frames(options.frames)
    render = scene.render
    if options.output:
        render.filepath = options.output
    if options.engine:
        try:
            render.engine = options.engine  # the worker's own copy: set it here, not per run
        except TypeError:
            raise WorkerError(f"there is no render engine '{options.engine}' in this Blender") from None
    if render.is_movie_format:
        raise WorkerError("a video cannot be split across workers: render an image sequence")
    if not options.overwrite:
        frames = [f for f in frames if not is_rendered(bpy.path.abspath(render.frame_path(frame=f)))]
    _say("start", frames=frames)
    written = 0

    def progress(_k: int, _n: int, frame: int) -> None:
        nonlocal written
        written += 1
        _say("frame", frame=frame, file=bpy.path.abspath(render.frame_path(frame=frame)))

    for start, end, step in arithmetic_runs(frames):
        request = SequenceRequest(frame_start=start, frame_end=end, frame_step=step)
        with bpy.context.temp_override(scene=scene):
            result = render_frames(bpy.context, request, progress)
        if result.cancelled:
            raise WorkerError(f"the render of frames {start}..{end} was cancelled")
        expected = len(range(start, end + 1, step))
        if len(result.frames) < expected:
            missing = sorted(set(range(start, end + 1, step)) - set(result.frames))
            raise WorkerError(f"Blender did not write frames {missing} (see the messages above)")
    _say("done", frames=written)
    return 0


def main(argv: list[str] | None = None) -> None:
    """Entry point: reads the arguments after ``--`` on the command line."""
    if argv is None:
        argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else []
    try:
        options = _parse(argv)
        code = run(options)
    except (WorkerError, AnimateError, FrameSpecError) as exc:
        print(f"Gaussian Avatar farm worker: {exc}", file=sys.stderr, flush=True)
        code = WORKER_ERROR_EXIT
    except Exception as exc:
        traceback.print_exc()
        print(f"Gaussian Avatar farm worker: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = WORKER_ERROR_EXIT
    sys.stdout.flush()
    sys.stderr.flush()
    if code:
        sys.exit(code)
