"""Cost and quality of putting an avatar into a Cycles shot (blender/shot/).

    .venv/bin/python -m benchmarks.shot_composite [--width 1920 --height 1080] [--samples 4]
        [--engine CYCLES] [--quality]

Cost: seconds per F12 of the test shot (floor, wall, a cube half in front of a 500-Gaussian
avatar, a sun and an area light; tests/fixtures/shot.py) at the given size and samples: the scene
without the avatar, then the composite (the avatar layer rendered by GAVATAR and merged in the
compositor). A first tiny render of each compiles shaders and kernels and is not timed.

Quality (--quality, at 96x72, 8 samples): the figures the tests check, printed: PSNR of the
composite's uncovered avatar pixels against the GAVATAR avatar over the scene, PSNR of the
cube's pixels against the scene without the avatar, the largest error on the avatar's soft
edge band, and the floor's brightness in the shadow against without the avatar.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _enable_addon() -> None:
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-"))
    sys.path.insert(0, str(ROOT))
    import bpy  # noqa: F401 (reads BLENDER_USER_RESOURCES)

    from tests.fixtures.blender_helpers import enable_addon_from_source

    enable_addon_from_source()


def _timed_render(path: Path) -> float:
    from tests.fixtures.shot import render_linear

    started = time.perf_counter()
    render_linear(path)
    return time.perf_counter() - started


def cost(width: int, height: int, samples: int, engine: str, folder: Path) -> None:
    import bpy

    from tests.fixtures.shot import build_shot

    bpy.ops.wm.read_homefile(use_empty=True)
    shot = build_shot(engine, width=width, height=height, samples=samples)
    scene = shot.scene
    render = scene.render
    render.resolution_percentage = 5
    _timed_render(folder / "warm_composite.exr")  # shaders, kernels
    scene.gavatar_engine.avatars_in_renders = False
    shot.splat.hide_render = shot.driver.hide_render = True  # the scene without the avatar
    _timed_render(folder / "warm_scene.exr")
    render.resolution_percentage = 100
    seconds_scene = _timed_render(folder / "scene.exr")
    scene.gavatar_engine.avatars_in_renders = True
    shot.splat.hide_render = shot.driver.hide_render = False
    seconds_composite = _timed_render(folder / "composite.exr")
    for obj in scene.objects:  # the avatar layer's share: GAVATAR on the avatar alone
        if obj.type == "MESH" and obj not in (shot.splat, shot.driver):
            obj.hide_render = True
    render.engine, render.film_transparent = "GAVATAR", True
    seconds_layer = _timed_render(folder / "avatar_layer.exr")
    print(f"{engine} {width}x{height}, {samples} samples, this machine:")
    print(f"  scene alone       {seconds_scene:7.2f} s/frame")
    print(
        f"  with the avatar   {seconds_composite:7.2f} s/frame  (+{seconds_composite - seconds_scene:.2f} s)"
    )
    print(f"  the avatar alone in GAVATAR (the layer's own share) {seconds_layer:.2f} s/frame")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def quality(folder: Path) -> None:
    import bpy

    from tests.blender.shot.test_shot_composite import box_mask, box_pixels, four_renders, shadow_pixel
    from tests.fixtures.shot import build_shot

    bpy.ops.wm.read_homefile(use_empty=True)
    shot = build_shot("CYCLES")
    images = four_renders(shot, folder)
    avatar, composite = images["avatar_alone"], images["composite"][..., :3]
    alpha = avatar[..., 3]
    expected = avatar[..., :3] + (1.0 - alpha[..., None]) * images["scene_with_shadow"][..., :3]
    uncovered = ~box_mask(alpha.shape, box_pixels(shot, shot.cube), grow=2)
    touched = uncovered & (alpha > 0.01)
    band = uncovered & (alpha > 0.02) & (alpha < 0.98)
    x0, y0, x1, y1 = box_pixels(shot, shot.cube)
    inner = (slice(y0 + 2, y1 - 2), slice(x0 + 2, x1 - 2))
    x, row = shadow_pixel(shot)
    window = (slice(row - 2, row + 3), slice(x - 4, x + 5))
    avatar_db = _psnr(composite[touched], expected[touched])
    cube_db = _psnr(composite[inner], images["scene_alone"][inner][..., :3])
    edge = np.abs(composite[band] - expected[band]).max()
    print("Quality, Cycles 96x72, 8 samples:")
    print(f"  uncovered avatar pixels vs GAVATAR over the scene: {avatar_db:.1f} dB")
    print(f"  cube pixels vs the scene without the avatar:       {cube_db:.1f} dB")
    print(f"  soft-edge band ({band.sum()} px), largest error:     {edge:.5f}")
    lit = images["scene_alone"][window][..., :3].mean()
    print(f"  floor in the shadow / without the avatar:          {composite[window].mean() / lit:.2f}")
    print(f"  pictures: {folder}")


def occluder_edges(folder: Path, scale: int = 4) -> None:
    """The band where the cube's antialiased edge crosses the avatar: the composite at 96x72
    against the composite rendered at scale x the size and averaged down (each output pixel
    then has scale^2 depth decisions instead of one)."""
    import bpy

    from tests.blender.shot.test_shot_composite import box_pixels
    from tests.fixtures.shot import build_shot, render_linear

    bpy.ops.wm.read_homefile(use_empty=True)
    shot = build_shot("CYCLES", samples=64)
    render = shot.scene.render
    bpy.context.view_layer.update()  # the cube's matrix_world
    x0, y0, x1, y1 = box_pixels(shot, shot.cube)
    ring = np.zeros((72, 96), bool)
    ring[y0 - 1 : y1 + 1, x0 - 1 : x1 + 1] = True
    ring[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2] = False  # the cube's outline, 3 px wide

    def errors(tag: str) -> np.ndarray:
        render.resolution_x, render.resolution_y = 96, 72
        shot.scene.cycles.samples = 64
        small = render_linear(folder / f"edges_{tag}_1x.exr")[..., :3]
        render.resolution_x, render.resolution_y = 96 * scale, 72 * scale
        shot.scene.cycles.samples = 8
        large = render_linear(folder / f"edges_{tag}_{scale}x.exr")[..., :3]
        reference = large.reshape(72, scale, 96, scale, 3).mean(axis=(1, 3))
        return np.abs(small - reference).max(-1)

    with_avatar = errors("avatar")
    render.resolution_x, render.resolution_y = 96, 72
    avatar_behind = _avatar_alpha(shot, folder) > 0.5
    shot.scene.gavatar_engine.avatars_in_renders = False
    shot.splat.hide_render = shot.driver.hide_render = True
    scene_only = errors("scene")
    band = ring & avatar_behind
    print(f"Occluder edges: the cube's outline where the avatar is behind it ({band.sum()} px),")
    print(f"96x72 (64 samples) against {scale}x{scale} supersampled (8 samples), largest channel error:")
    for name, error in (("composite", with_avatar), ("scene alone (baseline)", scene_only)):
        print(f"  {name:24s} mean {error[band].mean():.4f}, largest {error[band].max():.4f}")


def _avatar_alpha(shot: Any, folder: Path) -> np.ndarray:
    """The avatar's coverage in a GAVATAR render of it alone."""
    import bpy

    from tests.fixtures.shot import render_linear

    scene = bpy.context.scene
    hidden = [
        obj
        for obj in scene.objects
        if obj.type == "MESH" and not obj.hide_render and obj not in (shot.splat, shot.driver)
    ]
    for obj in hidden:
        obj.hide_render = True
    engine, transparent = scene.render.engine, scene.render.film_transparent
    scene.render.engine, scene.render.film_transparent = "GAVATAR", True
    alpha = render_linear(folder / "edges_alpha.exr")[..., 3]
    scene.render.engine, scene.render.film_transparent = engine, transparent
    for obj in hidden:
        obj.hide_render = False
    return alpha


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--engine", default="CYCLES")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--edges", action="store_true", help="only the occluder-edge figure")
    args = parser.parse_args()
    _enable_addon()
    folder = Path(tempfile.mkdtemp(prefix="gavatar-shot-"))
    if args.edges:
        occluder_edges(folder)
        return
    if args.quality:
        quality(folder)
    cost(args.width, args.height, args.samples, args.engine, folder)


if __name__ == "__main__":
    main()
