"""Retargeting holds whichever way the rigs' bones point (real bpy, real AMASS clip).

The real AMASS sample is imported onto the free SMPL-X stand-in, then retargeted onto armatures
with Mixamo or Rigify names whose bones run along the limbs, all point up (+Z), are rolled, or point
anywhere, in T- and A-pose rests with other proportions; then back from each onto the stand-in.
Measured as an animator sees it: the angle between the source's and the target's limb directions
(joint to mapped child joint) on every frame, and the hips' height over the feet in leg lengths.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.fixtures import retarget_rigs
from tests.fixtures.animate import (
    active_parts,
    open_blend,
    standin_smplx_blend,  # noqa: F401  (fixture)
)
from tests.fixtures.real_data import real_file
from tests.fixtures.standin import standin_dir  # noqa: F401  (fixture)

REAL_CLIP = real_file("amass_sample_smplh.npz")
MEDIAN_DEGREES, WORST_DEGREES, HIPS_LEGS = 2.0, 8.0, 0.05
# (convention, rest pose, leg scale, overall scale, preset) of the other rig.
RIGS = [
    ("limbs", "T", 1.0, 1.0, "MIXAMO"),
    ("fixed_z", "A", 1.0, 0.95, "MIXAMO"),
    ("rolled", "A", 1.25, 1.1, "RIGIFY"),
    ("random", "T", 0.85, 0.8, "MIXAMO_PLAIN"),
]


@pytest.fixture(scope="module")
def clip_on_standin(standin_smplx_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A .blend with the real clip imported onto the stand-in rig (the existing import_amass path)."""
    if REAL_CLIP is None:
        pytest.skip("../shared/real/amass_sample_smplh.npz is absent")
    open_blend(standin_smplx_blend)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.gavatar.import_amass(filepath=str(REAL_CLIP)) == {"FINISHED"}
    path = tmp_path_factory.mktemp("clip") / "clip_on_standin.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def _check(label: str, figures: retarget_rigs.Figures) -> None:
    print(
        f"{label}: limb angle median {figures.median_degrees:.4f} deg, "
        f"worst {figures.worst_degrees:.4f} deg, hips over the feet {figures.hips_over_feet:.4f}, "
        f"over the floor {figures.hips_over_floor:.4f} leg lengths"
    )
    assert figures.limbs == 39  # 19 body limbs and 20 finger limbs
    assert figures.median_degrees < MEDIAN_DEGREES and figures.worst_degrees < WORST_DEGREES
    assert figures.hips_over_feet < HIPS_LEGS and figures.hips_over_floor < HIPS_LEGS


@pytest.mark.slow
@pytest.mark.parametrize(("convention", "pose", "legs", "scale", "preset"), RIGS)
def test_real_clip_from_the_standin_onto_a_rig_and_back(
    clip_on_standin: Path, convention: str, pose: str, legs: float, scale: float, preset: str
) -> None:
    open_blend(clip_on_standin)
    standin = active_parts().armature
    scene = bpy.context.scene
    frames = list(range(scene.frame_start, scene.frame_end + 1))
    heads = retarget_rigs.skeleton(pose, legs, scale)
    rig = retarget_rigs.build("Other", heads, preset, convention, seed=7, location=(1.5, 0.0, 0.0))
    assert bpy.ops.gavatar.retarget(source=standin.name, target=rig.name) == {"FINISHED"}
    _check(f"stand-in -> {convention} {pose} ({preset})", retarget_rigs.measure(standin, rig, frames))
    assert bpy.ops.gavatar.retarget(source=rig.name, target=standin.name) == {"FINISHED"}
    _check(f"{convention} {pose} ({preset}) -> stand-in", retarget_rigs.measure(rig, standin, frames))


def test_rigs_of_any_convention_onto_each_other(addon: str, clean_scene: None) -> None:
    """Without the clip: a random motion on a rolled A-pose rig onto bones pointing up, T-pose."""
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 8
    source = retarget_rigs.build("Rolled", retarget_rigs.skeleton("A", 1.2), "RIGIFY", "rolled", seed=1)
    target = retarget_rigs.build(
        "Upright", retarget_rigs.skeleton("T", 0.9, 0.8), "MIXAMO", "fixed_z", seed=2
    )
    rng = np.random.default_rng(4)
    for frame in (1, 8):
        for bone in source.pose.bones:
            bone.rotation_mode = "QUATERNION"
            bone.rotation_quaternion = (1.0, *rng.normal(scale=0.3, size=3))
            bone.rotation_quaternion.normalize()
            bone.keyframe_insert("rotation_quaternion", frame=frame)
    hips = source.pose.bones["DEF-spine"]
    hips.location = (0.0, 0.0, 0.0)
    hips.keyframe_insert("location", frame=1)
    hips.location = (0.0, -0.2, 0.1)  # in the rolled bone's own axes, whichever way they lie
    hips.keyframe_insert("location", frame=8)
    assert bpy.ops.gavatar.retarget(source=source.name, target=target.name) == {"FINISHED"}
    figures = retarget_rigs.measure(source, target, list(range(1, 9)))
    _check("rolled A -> up T", figures)
    assert figures.worst_degrees < 1e-3


def test_the_standin_bones_run_along_the_limbs(standin_smplx_blend: Path) -> None:  # noqa: F811
    """The stand-in's thigh runs hip to knee (it used to point sideways, 79 degrees off)."""
    open_blend(standin_smplx_blend)
    bones = active_parts().armature.data.bones
    for joint, child in (
        ("left_hip", "left_knee"), ("right_hip", "right_knee"), ("left_ankle", "left_foot"),
        ("left_collar", "left_shoulder"), ("pelvis", "spine1"), ("spine3", "neck"),
    ):  # fmt: skip
        along = np.array(bones[child].head_local) - np.array(bones[joint].head_local)
        axis = np.array(bones[joint].matrix_local)[:3, 1]
        cosine = np.clip(axis @ along / np.linalg.norm(along), -1.0, 1.0)  # float32 data
        assert np.degrees(np.arccos(cosine)) < 0.05, joint
