"""Animation benchmark on the free stand-in SMPL-X rig: AMASS import, retargeting, sequence rendering.

    .venv/bin/python benchmarks/animate_motion.py [--clip PATH] [--frames 8] [--gaussians 3000]

- import: ``gavatar.import_amass`` of the clip (the real AMASS sample in ../shared/real when present,
  else a generated 601-frame SMPL-X clip at 120 fps) resampled to 30 fps, plain and with ``ground``;
- retarget: the imported motion baked from the stand-in rig onto a Mixamo-named armature (every
  frame of the clip), with the largest limb-direction error over all frames
  (benchmarks/retarget_accuracy.py has the full figures);
- render: ``gavatar.render_sequence`` with the GAVATAR engine at 72x96 (generated Gaussians bound
  to the driver mesh), seconds a frame.
Wall-clock figures; the machine may be shared, so compare runs made side by side.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="gavatar-bench-user-"))

import bpy  # noqa: E402

from core.rig import loaders  # noqa: E402
from core.rig.standins import standin_path  # noqa: E402
from tests.fixtures.blender_helpers import ADDON_MODULE, enable_addon_from_source  # noqa: E402
from tests.fixtures.real_data import real_file  # noqa: E402


def _module(name: str) -> Any:
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    result = fn()
    assert result == {"FINISHED"}, result
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", default="", help="AMASS .npz (default: the real sample, else generated)")
    parser.add_argument("--frames", type=int, default=8, help="frames to render")
    parser.add_argument("--gaussians", type=int, default=3000)
    args = parser.parse_args()
    model_path = standin_path("SMPLX")
    if not model_path.is_file():
        sys.exit("the free stand-ins are not built: python -m training.standins")
    enable_addon_from_source()
    bpy.ops.wm.read_homefile(use_empty=True)
    work = Path(tempfile.mkdtemp(prefix="gavatar-bench-"))
    clip = Path(args.clip) if args.clip else real_file("amass_sample_smplh.npz")
    if clip is None:
        from tests.blender.animate.test_amass_import import _clip

        clip = _clip(work / "generated.npz", frames=601, fps=120.0)
    start = time.perf_counter()
    assert bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(model_path)) == {"FINISHED"}
    print(f"stand-in SMPL-X rig built in {time.perf_counter() - start:.1f} s")
    parts = _module("blender.rig.parts").active_rig(bpy.context)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    plain = _timed(lambda: bpy.ops.gavatar.import_amass(filepath=str(clip)))
    grounded = _timed(lambda: bpy.ops.gavatar.import_amass(filepath=str(clip), ground=True))
    count = scene.frame_end - scene.frame_start + 1
    print(
        f"import_amass {clip.name}: {count} frames at 30 fps in {plain:.2f} s; with ground {grounded:.2f} s"
    )

    from tests.blender.animate.test_retarget_scene import _mixamo_armature

    mixamo = _mixamo_armature("Mixamo")
    onto = _timed(lambda: bpy.ops.gavatar.retarget(source=parts.armature.name, target=mixamo.name))
    from tests.fixtures.retarget_rigs import measure

    pairs = list(mixamo.gavatar_retarget.pairs)
    figures = measure(parts.armature, mixamo, list(range(scene.frame_start, scene.frame_end + 1)))
    print(
        f"retarget stand-in -> Mixamo: {len(pairs)} bones x {count} frames in {onto:.2f} s, "
        f"max limb direction error {figures.worst_degrees:.4f} deg"
    )

    from tests.engine.test_render import look_at, setup_scene
    from tests.workflows.test_render_sequence_gavatar import HEIGHT, WIDTH, _bound_splats

    camera = setup_scene(WIDTH, HEIGHT)
    model = loaders.load_model(model_path, family="SMPLX")
    _module("engine.splats.data").create_splat_object(
        "Avatar", _bound_splats(model, count=args.gaussians), driver=parts.mesh
    )
    scene.frame_set(scene.frame_start)
    mesh = parts.mesh.evaluated_get(bpy.context.evaluated_depsgraph_get())
    world = np.array(mesh.matrix_world)
    co = np.array([world[:3, :3] @ np.array(v.co) + world[:3, 3] for v in mesh.data.vertices])
    centre = 0.5 * (co.min(0) + co.max(0))
    look_at(camera, centre + np.array([-0.8, -2.2, 0.2]), centre)
    end = scene.frame_start + args.frames - 1
    seconds = _timed(
        lambda: bpy.ops.gavatar.render_sequence(
            frame_start=scene.frame_start, frame_end=end, filepath=str(work / "f_"), file_format="PNG"
        )
    )
    print(
        f"render_sequence GAVATAR {WIDTH}x{HEIGHT}, {args.gaussians} Gaussians: {args.frames} frames in "
        f"{seconds:.2f} s ({seconds / args.frames:.2f} s a frame, first frame includes GPU set-up)"
    )


if __name__ == "__main__":
    main()
