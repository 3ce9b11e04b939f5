"""Render the built-in 4D dataset (D-NeRF format) with Blender: a toy scene in motion with no rig
(core/synthetic/dynamic.py, blender/synthetic/toy_scene.py). Needs the bpy module: run it with
the project's .venv.

    .venv/bin/python -m scripts.make_4d            # 10 cameras x 48 times at 128^2 (GPU benchmark)
    .venv/bin/python -m scripts.make_4d --small    # 5 cameras x 24 times at 64^2 (CPU tests)

Splits: ``train`` is every training camera at the training times; ``val`` the held-out camera at
the training times (held-out view); ``test`` a few training cameras at the held-out times
(held-out time: every ``test_every``-th frame, never the first or last). Images are RGBA PNGs
(alpha is the mask), ``transforms_*.json`` carry ``camera_angle_x``, each image's camera-to-world
matrix and its ``time`` in [0, 1]. A finished dataset whose recipe matches is reused.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from core.datasets.camera import Camera, opencv_w2c_to_opengl_c2w
from core.datasets.writers import RECIPE_FILE, atomic_write_text, write_recipe
from core.synthetic.dynamic import FIELD_OF_VIEW, DynamicRecipe, frame_time, held_out_frames, ring_cameras

PRESETS = {
    False: DynamicRecipe(cameras=10, resolution=128, frames=48, test_every=6, test_cameras=3, samples=16),
    True: DynamicRecipe(cameras=5, resolution=64, frames=24, test_every=4, test_cameras=2, samples=8),
}


def default_out(small: bool, cache_dir: str | None = None) -> Path:
    from core.paths import default_cache_dir

    base = Path(cache_dir) if cache_dir else default_cache_dir()
    return base / "synthetic" / ("toys4d_small" if small else "toys4d")


def plan(recipe: DynamicRecipe) -> dict[str, list[tuple[Camera, int]]]:
    """(camera, frame) of every image, per split."""
    train_cams, held_out = ring_cameras(recipe.cameras, recipe.resolution, recipe.seed)
    test_frames = held_out_frames(recipe.frames, recipe.test_every)
    train_frames = [f for f in range(recipe.frames) if f not in test_frames]
    step = max(1, recipe.cameras // max(1, recipe.test_cameras))
    test_cams = train_cams[::step][: recipe.test_cameras]
    return {
        "train": [(c, f) for f in train_frames for c in train_cams],
        "val": [(held_out, f) for f in train_frames],
        "test": [(c, f) for f in test_frames for c in test_cams],
    }


def _recipe_matches(out: Path, recipe: DynamicRecipe) -> bool:
    try:
        stored = json.loads((out / RECIPE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return stored.get("recipe") == asdict(recipe) and stored.get("complete") is True


def generate(recipe: DynamicRecipe, out: Path, *, force: bool = False, log: Any = None) -> Path:
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if not force and _recipe_matches(out, recipe):
        log(f"toys4d: {out} is up to date (recipe unchanged)")
        return out
    if out.exists() and any(out.iterdir()) and not (out / "transforms_train.json").exists():
        if not any(out.glob("*/r_*.png")):
            raise SystemExit(f"error: {out} is not empty and was not made by make_4d; choose another --out")
    (out / RECIPE_FILE).unlink(missing_ok=True)  # incomplete until the end
    import bpy

    from core.synthetic.dynamic import scene_state
    from scripts.source_package import source_module

    studio = source_module("blender.synthetic.scene")
    toys_module = source_module("blender.synthetic.toy_scene")
    cameras_module = source_module("blender.datasets.cameras")
    started = time.time()
    scene = studio.reset_scene()
    studio.configure_render(scene, studio.RenderSettings(recipe.samples, False, 0.0, 2))
    scene.render.resolution_x = scene.render.resolution_y = recipe.resolution
    toys = toys_module.add_toys(scene)
    toys_module.add_light(scene)
    collection = bpy.data.collections.new("Cameras")
    scene.collection.children.link(collection)
    objects: dict[str, Any] = {}
    images = plan(recipe)
    total = sum(len(v) for v in images.values())
    done = 0
    for split, pairs in images.items():
        frames_json = []
        for camera, frame in sorted(pairs, key=lambda cf: (cf[1], cf[0].camera_id)):
            if camera.camera_id not in objects:
                objects[camera.camera_id] = cameras_module.create_camera(camera.camera_id, camera, collection)
            name = f"r_{camera.camera_id}_{frame:03d}"
            path = out / split / f"{name}.png"
            if force or not path.is_file():
                toys_module.place(toys, scene_state(frame_time(frame, recipe.frames)))
                tmp = studio.render_view(scene, objects[camera.camera_id], out / ".render" / "view.png")
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp.replace(path)  # whole files only: an interrupted run resumes at the next image
            done += 1
            if done % 50 == 0:
                log(f"  {done}/{total} images, {time.time() - started:.0f} s")
            frames_json.append({
                "file_path": f"./{split}/{name}",
                "time": frame_time(frame, recipe.frames),
                "rotation": 0.0,
                "transform_matrix": opencv_w2c_to_opengl_c2w(camera.world_to_camera).tolist(),
            })  # fmt: skip
        atomic_write_text(
            out / f"transforms_{split}.json",
            json.dumps({"camera_angle_x": FIELD_OF_VIEW, "frames": frames_json}, indent=1),
        )
    seconds = time.time() - started
    write_recipe(out, {
        "recipe": asdict(recipe), "complete": True, "format": "dnerf", "images": total,
        "seconds": round(seconds, 1), "blender": str(bpy.app.version_string),
        "held_out_frames": held_out_frames(recipe.frames, recipe.test_every),
        "fps": 24, "command": "python -m scripts.make_4d" + (" --small" if recipe == PRESETS[True] else ""),
    })  # fmt: skip
    log(f"toys4d: {total} images in {seconds:.0f} s -> {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the CPU-test variant (5 cameras, 64x64)")
    parser.add_argument("--out", help="output folder (default: <cache>/synthetic/toys4d[_small])")
    parser.add_argument("--cache-dir")
    for name in ("cameras", "resolution", "frames", "test-every", "test-cameras", "samples", "seed"):
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--force", action="store_true", help="render again even if the recipe matches")
    args = parser.parse_args(argv)
    recipe = PRESETS[args.small]
    overrides = {
        k: getattr(args, k)
        for k in ("cameras", "resolution", "frames", "test_every", "test_cameras", "samples", "seed")
        if getattr(args, k) is not None
    }
    recipe = replace(recipe, **overrides)
    generate(
        recipe, Path(args.out) if args.out else default_out(args.small, args.cache_dir), force=args.force
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
