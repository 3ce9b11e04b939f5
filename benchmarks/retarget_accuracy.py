"""Retargeting accuracy on the real AMASS clip, per bone convention of the other rig.

    .venv/bin/python benchmarks/retarget_accuracy.py [--clip PATH]

The clip (default: the real AMASS sample in ../shared/real) is imported onto the free SMPL-X
stand-in with ``gavatar.import_amass`` at 30 fps, then retargeted onto armatures built in code
(tests/fixtures/retarget_rigs.py) whose bones run along the limbs, all point up (+Z), are rolled, or point
anywhere, in T- and A-pose rests and other proportions, with Mixamo or Rigify names; then from each
of them back onto the stand-in. Per direction it prints, over every frame of the clip:
- the angle between the source's and the target's limb directions (a bone's joint to its mapped
  child's joint, world space): median and worst over all limbs and frames;
- the hips' height over the lowest foot, and over the floor (the source's: its lowest foot over the
  clip; the target's: its feet at rest), in each rig's leg lengths: the worst difference between
  source and target;
- the bake's wall-clock seconds.
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

import bpy  # noqa: E402

from core.rig.standins import standin_path  # noqa: E402
from tests.blender.animate.test_retarget_conventions import RIGS  # noqa: E402
from tests.fixtures import retarget_rigs  # noqa: E402
from tests.fixtures.blender_helpers import enable_addon_from_source  # noqa: E402
from tests.fixtures.real_data import real_file  # noqa: E402


def _row(label: str, figures: retarget_rigs.Figures, seconds: float) -> str:
    return (
        f"{label:<46} {figures.median_degrees:>9.4f} {figures.worst_degrees:>9.4f} "
        f"{figures.hips_over_feet:>10.4f} {figures.hips_over_floor:>10.4f} {seconds:>8.2f}"
    )


def _timed_retarget(source: str, target: str) -> float:
    start = time.perf_counter()
    assert bpy.ops.gavatar.retarget(source=source, target=target) == {"FINISHED"}
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", default="", help="AMASS .npz (default: the real sample in ../shared/real)")
    args = parser.parse_args()
    clip = Path(args.clip) if args.clip else real_file("amass_sample_smplh.npz")
    if clip is None or not clip.is_file():
        sys.exit("no AMASS clip: ../shared/real/amass_sample_smplh.npz is absent; pass --clip")
    model_path = standin_path("SMPLX")
    if not model_path.is_file():
        sys.exit("the free stand-ins are not built: python -m training.standins")
    enable_addon_from_source()
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.gavatar.add_rig(family="SMPLX", model_path=str(model_path)) == {"FINISHED"}
    standin = bpy.context.view_layer.objects.active
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_amass(filepath=str(clip)) == {"FINISHED"}
    clip_action = standin.animation_data.action
    frames = list(range(scene.frame_start, scene.frame_end + 1))
    print(f"clip {clip.name}: {len(frames)} frames at 30 fps on the stand-in rig '{standin.name}'")
    print(
        f"{'retarget':<46} {'median':>9} {'worst':>9} {'hips/feet':>10} {'hips/floor':>10} {'seconds':>8}\n"
        f"{'':<46} {'deg':>9} {'deg':>9} {'legs':>10} {'legs':>10}"
    )
    for convention, pose, legs, scale, preset in RIGS:
        standin.animation_data.action = clip_action
        heads = retarget_rigs.skeleton(pose, legs, scale)
        rig = retarget_rigs.build(f"{convention} {pose}", heads, preset, convention, seed=7)
        label = f"{convention} {pose} x{legs:g} legs ({preset})"
        seconds = _timed_retarget(standin.name, rig.name)
        print(_row(f"stand-in -> {label}", retarget_rigs.measure(standin, rig, frames), seconds))
        seconds = _timed_retarget(rig.name, standin.name)
        print(_row(f"{label} -> stand-in", retarget_rigs.measure(rig, standin, frames), seconds))


if __name__ == "__main__":
    main()
