"""Playback cost of a baked 4D sequence in Blender (real bpy), per frame.

    .venv/bin/python -m benchmarks.fourd.playback [--gaussians 20000 100000] [--frames 48]
    .venv/bin/python -m benchmarks.fourd.playback --file out/sequence.gavatar4d

For each size, a .gavatar4d of that many Gaussians moving over ``--frames`` frames (or the given
file) is imported with gavatar.import_sequence, and each frame is timed:

- read: SequenceFile.frame (the mapped file's slice, dequantised to float32) -- what the engine
  does on a frame change before its upload;
- scrub: scene.frame_set + engine/splats/runtime.posed_gaussians (the numpy path the PLY exports
  use);
- F12: a GAVATAR render at ``--resolution`` of the sequence object, and of a static splat object
  holding the same Gaussians (the difference is what following the timeline costs).

Also the file size per second of animation. On this machine the GPU is llvmpipe (the GPU's work
runs on the CPU): the F12 times are upper bounds; the read and scrub times are the CPU's share.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _enable_addon() -> str:
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-"))
    sys.path.insert(0, str(ROOT))
    import bpy  # noqa: F401

    from tests.fixtures.blender_helpers import ADDON_MODULE, enable_addon_from_source

    enable_addon_from_source()
    return ADDON_MODULE


def _median_ms(values: list[float]) -> float:
    return 1000.0 * float(np.median(values))


def measure(top: str, path: Path, resolution: int, renders: int) -> dict[str, Any]:
    import importlib

    import bpy

    from core.avatar.sequence_file import SequenceFile
    from tests.engine.test_render import look_at, setup_scene

    runtime = importlib.import_module(f"{top}.engine.splats.runtime")
    splat_data = importlib.import_module(f"{top}.engine.splats.data")
    bpy.ops.wm.read_homefile(use_empty=True)
    camera = setup_scene(resolution, resolution)
    seq = SequenceFile(path)
    reads = []
    for k in range(seq.num_frames):
        t0 = time.perf_counter()
        seq.frame(k)
        reads.append(time.perf_counter() - t0)
    assert bpy.ops.gavatar.import_sequence(filepath=str(path), start=1) == {"FINISHED"}
    obj = bpy.context.view_layer.objects.active
    scene = bpy.context.scene
    scrubs = []
    for k in range(seq.num_frames):
        t0 = time.perf_counter()
        scene.frame_set(1 + k)
        runtime.posed_gaussians(obj, bpy.context.evaluated_depsgraph_get())
        scrubs.append(time.perf_counter() - t0)
    means = seq.frame(0).means
    centre = (means.min(0) + means.max(0)) / 2.0
    extent = float(np.ptp(means, axis=0).max())
    world_centre = np.array(obj.matrix_world, dtype=np.float64) @ np.append(centre, 1.0)
    look_at(camera, world_centre[:3] + np.array([0.0, -2.2 * extent, 0.3 * extent]), world_centre[:3])
    scene.render.filepath = str(Path(tempfile.mkdtemp()) / "f.png")

    def render_times(frames: list[int]) -> list[float]:
        out = []
        for frame in frames:
            scene.frame_set(frame)
            t0 = time.perf_counter()
            bpy.ops.render.render(write_still=False)
            out.append(time.perf_counter() - t0)
        return out

    frames = [1 + (i * 7) % seq.num_frames for i in range(renders)]
    sequence_renders = render_times(frames)
    static = splat_data.create_splat_object("static", splat_data.read_arrays(obj))
    static.matrix_world = obj.matrix_world
    obj.hide_render = True
    static_renders = render_times(frames)
    seconds = seq.num_frames / seq.fps
    return {
        "file": str(path),
        "gaussians": seq.num_gaussians,
        "frames": seq.num_frames,
        "fps": seq.fps,
        "file_mb": path.stat().st_size / 1e6,
        "mb_per_second": path.stat().st_size / 1e6 / seconds,
        "read_ms_per_frame": _median_ms(reads),
        "scrub_ms_per_frame": _median_ms(scrubs),
        "f12_ms_sequence": _median_ms(sequence_renders[1:] or sequence_renders),
        "f12_ms_static_same_gaussians": _median_ms(static_renders[1:] or static_renders),
        "resolution": resolution,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gaussians", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--file", default=None, help="a .gavatar4d to measure instead of generated ones")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--renders", type=int, default=4)
    args = parser.parse_args(argv)
    top = _enable_addon()
    results = []
    if args.file:
        results.append(measure(top, Path(args.file), args.resolution, args.renders))
    else:
        from tests.fixtures.sequence import write_moving_sequence

        folder = Path(tempfile.mkdtemp(prefix="fourd_playback_"))
        for count in args.gaussians:
            path = folder / f"moving_{count}.gavatar4d"
            write_moving_sequence(path, count=count, frames=args.frames, degree=1)
            results.append(measure(top, path, args.resolution, args.renders))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
