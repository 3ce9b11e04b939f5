"""Wall time of a distributed render: 1 vs N local workers against one in-process render.

    .venv/bin/python -m benchmarks.farm_render [--frames 16] [--gaussians 3000] [--size 160 120]
                                               [--workers 1 2]

The scene is tests/fixtures/farm.py's keyed sphere-head avatar (SH degree 1, rank-2 dynamics) at
the given resolution. Each run renders every frame from scratch (overwrite) with
``gavatar.render_distributed(workers=N, wait=True)``; the baseline is ``gavatar.render_sequence``
in this process (no start-up: Blender, the extension and the GPU context are already warm). A
worker pays its own start-up (bpy import, extension, opening the .blend, first GPU context), so
the speed-up needs frames that cost more than that, and free cores: the ratio is printed with
``os.cpu_count()``, since workers share the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-user-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--gaussians", type=int, default=3000)
    parser.add_argument("--size", type=int, nargs=2, default=(160, 120))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()

    import bpy

    from tests.fixtures import farm as farm_fixtures
    from tests.fixtures.blender_helpers import enable_addon_from_source

    enable_addon_from_source()
    folder = Path(tempfile.mkdtemp(prefix="gavatar-farm-bench-"))
    bpy.ops.wm.read_homefile(use_empty=True)
    farm_fixtures.WIDTH, farm_fixtures.HEIGHT = options.size
    farm_fixtures.build_avatar_scene(options.frames, gaussians=options.gaussians)
    scene = bpy.context.scene
    scene.render.filepath = str(folder / "farm" / "f_####")
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "bench.blend"))

    bpy.ops.gavatar.render_sequence(frame_start=1, frame_end=1, filepath=str(folder / "warm" / "f_"))
    started = time.perf_counter()
    bpy.ops.gavatar.render_sequence(filepath=str(folder / "single" / "f_####"))
    single = time.perf_counter() - started
    print(
        f"{options.frames} frames, {options.gaussians} Gaussians, {options.size[0]}x{options.size[1]}, "
        f"{os.cpu_count()} CPU cores"
    )
    print(f"  in-process render_sequence: {single:6.2f} s ({single / options.frames:.3f} s a frame)")
    times = {}
    for workers in options.workers:
        started = time.perf_counter()
        result = bpy.ops.gavatar.render_distributed(workers=workers, overwrite=True, wait=True)
        times[workers] = time.perf_counter() - started
        assert result == {"FINISHED"}, result
        seconds = times[workers]
        ratio = times[options.workers[0]] / seconds
        print(
            f"  {workers} worker(s): {seconds:6.2f} s ({seconds / options.frames:.3f} s a frame; "
            f"x{ratio:.2f} vs {options.workers[0]} worker(s), x{single / seconds:.2f} vs in-process)"
        )


if __name__ == "__main__":
    main()
