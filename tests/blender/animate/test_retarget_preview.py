"""The retarget preview (ghosts of the target on a few frames, nothing keyed) and the warning when the
bone map leaves a limb out (real bpy, armatures built in code)."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.fixtures import retarget_rigs
from tests.fixtures.animate import data_counts, module

FRAMES = (1, 12)


def _animated_source():  # type: ignore[no-untyped-def]
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = FRAMES
    source = retarget_rigs.build("Source", retarget_rigs.skeleton("A", 1.1), "MIXAMO", "rolled", seed=3)
    rng = np.random.default_rng(5)
    for frame in FRAMES:
        for bone in source.pose.bones:
            bone.rotation_mode = "QUATERNION"
            bone.rotation_quaternion = (1.0, *rng.normal(scale=0.3, size=3))
            bone.rotation_quaternion.normalize()
            bone.keyframe_insert("rotation_quaternion", frame=frame)
        hips = source.pose.bones["mixamorig:Hips"]
        hips.location = (0.1 * frame, 0.0, 0.02 * frame)
        hips.keyframe_insert("location", frame=frame)
    return source


def _target():  # type: ignore[no-untyped-def]
    return retarget_rigs.build(
        "Target", retarget_rigs.skeleton("T", 0.9), "RIGIFY_METARIG", "fixed_z", location=(1.0, 0.0, 0.0)
    )


def test_preview_shows_ghosts_that_match_the_bake_and_keys_nothing(addon: str, clean_scene: None) -> None:
    source, target = _animated_source(), _target()
    before = data_counts()
    assert bpy.ops.gavatar.retarget_preview(source=source.name, target=target.name, count=3) == {"FINISHED"}
    assert target.animation_data is None or target.animation_data.action is None
    preview = module("blender.animate.retarget_preview")
    ghosts = sorted(preview.ghosts_of(target), key=lambda g: int(g.name.rsplit(" ", 1)[1]))
    assert [g.name for g in ghosts] == ["Target ghost 1", "Target ghost 6", "Target ghost 12"]
    collection = bpy.data.collections[preview.collection_name(target)]
    assert set(collection.objects) == set(ghosts)
    assert all(g.show_in_front and g.data.display_type == "WIRE" and g.data != target.data for g in ghosts)
    # A second preview replaces the ghosts rather than piling them up.
    assert bpy.ops.gavatar.retarget_preview(source=source.name, target=target.name, count=3) == {"FINISHED"}
    ghosts = sorted(preview.ghosts_of(target), key=lambda g: int(g.name.rsplit(" ", 1)[1]))
    assert len(ghosts) == 3
    # Each ghost stands where the baked target stands on its frame, limbs along the source's.
    assert bpy.ops.gavatar.retarget(source=source.name, target=target.name) == {"FINISHED"}
    bake = module("blender.animate.retarget_bake")
    maths = module("core.motion.retarget")
    pairs = [(p.name, p.source, p.target) for p in target.gavatar_retarget.pairs]
    bones = [p[2] for p in pairs]
    for ghost, frame in zip(ghosts, (1, 6, 12), strict=True):
        shown = bake.sample_heads(bpy.context, ghost, bones, [frame])
        baked = bake.sample_heads(bpy.context, target, bones, [frame])
        wanted = bake.sample_heads(bpy.context, source, [p[1] for p in pairs], [frame])
        assert np.abs(shown - baked).max() < 1e-5
        assert maths.limb_angles(wanted, shown, [p[0] for p in pairs]).max() < 1e-3
    assert bpy.ops.gavatar.retarget_preview(target=target.name, clear=True) == {"FINISHED"}
    assert preview.ghosts_of(target) == []
    assert preview.collection_name(target) not in bpy.data.collections
    after = data_counts()
    assert after["objects"] == before["objects"] and after["armatures"] == before["armatures"]


def test_preview_refuses_a_bad_request(addon: str, clean_scene: None) -> None:
    source, target = _animated_source(), _target()
    with pytest.raises(RuntimeError, match="same armature"):
        bpy.ops.gavatar.retarget_preview(source=source.name, target=source.name)
    with pytest.raises(RuntimeError, match="no object named 'Nobody'"):
        bpy.ops.gavatar.retarget_preview(source="Nobody", target=target.name)
    with pytest.raises(RuntimeError, match="Choose the armature whose motion"):
        bpy.ops.gavatar.retarget_preview(target=target.name)  # no source given, none stored
    assert module("blender.animate.retarget_preview").ghosts_of(target) == []


def test_a_map_that_leaves_a_limb_out_is_warned_about(
    addon: str, clean_scene: None, capfd: pytest.CaptureFixture[str]
) -> None:
    source, target = _animated_source(), _target()
    assert bpy.ops.gavatar.retarget(source=source.name, target=target.name) == {"FINISHED"}
    out = capfd.readouterr()
    assert "leaves out a limb" not in out.out + out.err
    row = next(p for p in target.gavatar_retarget.pairs if p.target == "shin.L")
    row.enabled = False  # the left thigh stays mapped, its shin does not
    assert bpy.ops.gavatar.retarget(source=source.name, target=target.name) == {"FINISHED"}
    out = capfd.readouterr()
    assert "the bone map leaves out a limb: thigh.L (left_hip without left_knee)" in out.out + out.err


def test_the_readme_retarget_snippets_run_as_written(addon: str, clean_scene: None) -> None:
    from tests.fixtures.blender_rig_models import make_model

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    snippets = [
        line.strip() for line in readme.splitlines() if line.startswith("    bpy.ops.gavatar.retarget")
    ]
    assert len(snippets) == 3
    module("blender.rig.build").build_rig(make_model("SMPLX", seed=4))
    rig = bpy.data.objects["SMPL-X"]  # the name the README gives the body rig
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = FRAMES
    for frame in FRAMES:
        rig.pose.bones["left_knee"].rotation_quaternion = (0.9, 0.4 * frame / 12, 0.0, 0.0)
        rig.pose.bones["left_knee"].keyframe_insert("rotation_quaternion", frame=frame)
    retarget_rigs.build(
        "Armature", retarget_rigs.skeleton("T"), "MIXAMO", "rolled"
    )  # as a Mixamo FBX imports
    for snippet in snippets:
        exec(snippet, {"bpy": bpy})
    target = bpy.data.objects["Armature"]
    assert module("blender.animate.retarget_preview").ghosts_of(target) == []
    assert target.animation_data.action is not None
