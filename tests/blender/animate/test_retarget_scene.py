"""gavatar.retarget in the scene (real bpy): a Mixamo-named armature in an A-pose rest, animated, onto
SMPL-X rigs (a generated one and the free stand-in), and back from the rig onto another armature.
Every mapped limb (a bone's joint to its mapped child's joint) must point where the source's does,
on every frame."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest
from mathutils import Quaternion, Vector

from tests.fixtures.animate import (
    active_parts,
    data_counts,
    fcurve_paths,
    module,
    open_blend,
    standin_smplx_blend,  # noqa: F401  (fixture)
)
from tests.fixtures.blender_rig_models import make_model
from tests.fixtures.standin import standin_dir  # noqa: F401  (fixture)

MAX_DEGREES = 5.0
FRAMES = (1, 12)

# Mixamo skeleton: (bone, parent, head offset from the parent's head... as absolute heads below).
_CENTRE = [
    ("Hips", None, (0.0, 0.0, 1.0)),
    ("Spine", "Hips", (0.0, 0.01, 1.1)),
    ("Spine1", "Spine", (0.0, 0.01, 1.22)),
    ("Spine2", "Spine1", (0.0, 0.0, 1.34)),
    ("Neck", "Spine2", (0.0, 0.0, 1.5)),
    ("Head", "Neck", (0.0, -0.02, 1.6)),
    ("HeadTop_End", "Head", (0.0, -0.02, 1.8)),
]


def _side(sign: float, name: str) -> list[tuple[str, str | None, tuple[float, float, float]]]:
    s = sign
    down = np.array([s * 0.7071, 0.0, -0.7071])  # A-pose: arms 45 degrees down
    shoulder = np.array([s * 0.16, 0.0, 1.45])
    elbow = shoulder + 0.28 * down
    wrist = elbow + 0.25 * down
    bones: list[tuple[str, str | None, tuple[float, float, float]]] = [
        (f"{name}Shoulder", "Spine2", (s * 0.05, 0.0, 1.42)),
        (f"{name}Arm", f"{name}Shoulder", tuple(shoulder)),
        (f"{name}ForeArm", f"{name}Arm", tuple(elbow)),
        (f"{name}Hand", f"{name}ForeArm", tuple(wrist)),
    ]
    for f, finger in enumerate(("Index", "Middle", "Ring", "Pinky", "Thumb")):
        base = wrist + 0.08 * down + np.array([0.0, -0.03 + 0.015 * f, 0.0])
        parent = f"{name}Hand"
        for i in (1, 2, 3):
            head = base + 0.025 * (i - 1) * down
            bones.append((f"{name}Hand{finger}{i}", parent, tuple(head)))
            parent = f"{name}Hand{finger}{i}"
    hip = np.array([s * 0.09, 0.0, 0.95])
    bones += [
        (f"{name}UpLeg", "Hips", tuple(hip)),
        (f"{name}Leg", f"{name}UpLeg", tuple(hip + [s * 0.02, 0.0, -0.43])),
        (f"{name}Foot", f"{name}Leg", tuple(hip + [s * 0.03, 0.02, -0.85])),
        (f"{name}ToeBase", f"{name}Foot", tuple(hip + [s * 0.03, -0.12, -0.93])),
        (f"{name}Toe_End", f"{name}ToeBase", tuple(hip + [s * 0.03, -0.2, -0.93])),
    ]
    return bones


def _mixamo_armature(name: str, location=(0.0, 0.0, 0.0), turn: float = 0.0, scale: float = 1.0):  # type: ignore[no-untyped-def]
    """An armature with Mixamo names (mixamorig: prefix) in an A-pose; each bone points at its first child."""
    layout = _CENTRE + _side(1.0, "Left") + _side(-1.0, "Right")
    heads = {n: np.array(h) for n, _, h in layout}
    children: dict[str, list[str]] = {}
    for n, p, _ in layout:
        if p:
            children.setdefault(p, []).append(n)
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = location
    obj.rotation_euler = (0.0, 0.0, turn)
    obj.scale = (scale, scale, scale)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for n, p, _ in layout:
        bone = data.edit_bones.new(f"mixamorig:{n}")
        bone.head = Vector(heads[n])
        if n in children:
            first = "Spine" if n == "Hips" else children[n][0]
            bone.tail = Vector(heads[first])
        else:
            parent_dir = heads[n] - heads[p] if p else np.array([0.0, 0.0, 1.0])
            bone.tail = Vector(heads[n] + 0.03 * parent_dir / np.linalg.norm(parent_dir))
        if p:
            bone.parent = data.edit_bones[f"mixamorig:{p}"]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def _animate(armature, seed: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Random rotations on every bone at a few keys, and a walking, bobbing root."""
    rng = np.random.default_rng(seed)
    for frame in (FRAMES[0], 6, FRAMES[1]):
        for bone in armature.pose.bones:
            bone.rotation_mode = "QUATERNION"
            axis = rng.normal(size=3)
            bone.rotation_quaternion = Quaternion(Vector(axis / np.linalg.norm(axis)), rng.uniform(0.0, 0.7))
            bone.keyframe_insert("rotation_quaternion", frame=frame)
        hips = armature.pose.bones["mixamorig:Hips"]
        hips.location = Vector((0.3 * frame / 12, 0.05 * np.sin(frame), 0.1 * frame / 12))
        hips.keyframe_insert("location", frame=frame)


def _worst_angle(source, target, pairs) -> float:  # type: ignore[no-untyped-def]
    frames = list(range(FRAMES[0], FRAMES[1] + 1))
    bake = module("blender.animate.retarget_bake")
    a = bake.sample_heads(bpy.context, source, [p[1] for p in pairs], frames)
    b = bake.sample_heads(bpy.context, target, [p[2] for p in pairs], frames)
    angles = module("core.motion.retarget").limb_angles(a, b, [p[0] for p in pairs])
    assert angles.shape[1] >= 10
    return float(angles.max())


def _pairs(target) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(p.name, p.source, p.target) for p in target.gavatar_retarget.pairs if p.enabled]


def _head_world(armature, bone: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    evaluated = armature.evaluated_get(bpy.context.evaluated_depsgraph_get())
    world = np.array(evaluated.matrix_world)
    return world[:3, :3] @ np.array(evaluated.pose.bones[bone].head) + world[:3, 3]


def _check_root(source, target, source_bone: str, target_bone: str, ratio: float) -> float:  # type: ignore[no-untyped-def]
    scene = bpy.context.scene
    scene.frame_set(FRAMES[0])
    s0, t0 = _head_world(source, source_bone), _head_world(target, target_bone)
    worst = 0.0
    for frame in range(FRAMES[0], FRAMES[1] + 1):
        scene.frame_set(frame)
        moved = (_head_world(source, source_bone) - s0) * ratio
        worst = max(worst, float(np.abs(_head_world(target, target_bone) - t0 - moved).max()))
    return worst


def _leg(armature, names: tuple[str, str, str]) -> float:  # type: ignore[no-untyped-def]
    world = np.array(armature.matrix_world)
    heads = [world[:3, :3] @ np.array(armature.data.bones[n].head_local) + world[:3, 3] for n in names]
    return float(np.linalg.norm(heads[1] - heads[0]) + np.linalg.norm(heads[2] - heads[1]))


def _mixamo_onto_rig(rig) -> None:  # type: ignore[no-untyped-def]
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = FRAMES
    source = _mixamo_armature("Mixamo", location=(0.5, -0.3, 0.0), turn=0.6, scale=0.9)
    _animate(source)
    result = bpy.ops.gavatar.retarget(source=source.name, target=rig.name)
    assert result == {"FINISHED"}
    pairs = _pairs(rig)
    assert len(pairs) >= 50 and rig.gavatar_retarget.source == source
    worst = _worst_angle(source, rig, pairs)
    ratio = (
        _leg(rig, ("left_hip", "left_knee", "left_ankle"))
        + _leg(rig, ("right_hip", "right_knee", "right_ankle"))
    ) / (
        _leg(source, ("mixamorig:LeftUpLeg", "mixamorig:LeftLeg", "mixamorig:LeftFoot"))
        + _leg(source, ("mixamorig:RightUpLeg", "mixamorig:RightLeg", "mixamorig:RightFoot"))
    )
    root_error = _check_root(source, rig, "mixamorig:Hips", "pelvis", ratio)
    print(
        f"Mixamo -> SMPL-X: {len(pairs)} bones, max direction error {worst:.4f} deg, "
        f"root error {root_error:.1e} m"
    )
    assert worst < MAX_DEGREES
    assert root_error < 1e-4


def test_mixamo_a_pose_onto_generated_smplx_rig(addon: str, clean_scene: None) -> None:
    module("blender.rig.build").build_rig(make_model("SMPLX", seed=4))
    _mixamo_onto_rig(active_parts().armature)


def test_mixamo_a_pose_onto_the_standin(standin_smplx_blend: Path) -> None:  # noqa: F811
    open_blend(standin_smplx_blend)
    _mixamo_onto_rig(active_parts().armature)


def test_rig_onto_another_armature_and_the_editable_map(addon: str, clean_scene: None) -> None:
    module("blender.rig.build").build_rig(make_model("SMPLX", seed=5))
    rig = active_parts().armature
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = FRAMES
    rng = np.random.default_rng(3)
    for frame in FRAMES:
        for name in ("pelvis", "spine1", "left_shoulder", "left_elbow", "right_hip", "right_knee", "neck"):
            bone = rig.pose.bones[name]
            axis = rng.normal(size=3)
            bone.rotation_quaternion = Quaternion(Vector(axis / np.linalg.norm(axis)), 0.6)
            bone.keyframe_insert("rotation_quaternion", frame=frame)
    target = _mixamo_armature("Mixamo Target", turn=-0.4)
    assert bpy.ops.gavatar.retarget_detect_map(source=rig.name, target=target.name) == {"FINISHED"}
    pairs = target.gavatar_retarget.pairs
    # Edit the map: leave the left forearm out; it must then keep its rest rotation.
    row = next(p for p in pairs if p.target == "mixamorig:LeftForeArm")
    row.enabled = False
    assert bpy.ops.gavatar.retarget(source=rig.name, target=target.name, root_motion="NONE") == {"FINISHED"}
    worst = _worst_angle(rig, target, _pairs(target))
    print(f"SMPL-X -> Mixamo: max direction error {worst:.4f} deg")
    assert worst < MAX_DEGREES
    paths = fcurve_paths(target)
    assert any("RightForeArm" in p for p in paths)
    assert not any("LeftForeArm" in p for p in paths)
    assert 'pose.bones["mixamorig:Hips"].location' not in paths


def test_bad_requests_change_nothing(addon: str, clean_scene: None) -> None:
    source = _mixamo_armature("Mixamo")
    before = data_counts()
    with pytest.raises(RuntimeError, match="same armature"):
        bpy.ops.gavatar.retarget(source=source.name, target=source.name)
    with pytest.raises(RuntimeError, match="no object named"):
        bpy.ops.gavatar.retarget(source="Nobody", target=source.name)
    bpy.ops.object.empty_add()
    with pytest.raises(RuntimeError, match="not an armature"):
        bpy.ops.gavatar.retarget(source=source.name, target=bpy.context.active_object.name)
    other = bpy.data.objects.new("Plain", bpy.data.armatures.new("Plain"))
    bpy.context.scene.collection.objects.link(other)
    bpy.context.view_layer.objects.active = other
    bpy.ops.object.mode_set(mode="EDIT")
    for i in range(10):
        bone = other.data.edit_bones.new(f"bone{i}")
        bone.tail = (0.0, 0.0, 0.1)
    bpy.ops.object.mode_set(mode="OBJECT")
    with pytest.raises(RuntimeError, match="follow none of the known conventions"):
        bpy.ops.gavatar.retarget(source=source.name, target=other.name)
    # A hand-edited map naming a bone the target lacks.
    item = other.gavatar_retarget.pairs.add()
    item.name, item.source, item.target = "pelvis", "mixamorig:Hips", "nope"
    other.gavatar_retarget.source = source
    with pytest.raises(RuntimeError, match="'nope'"):
        bpy.ops.gavatar.retarget(source=source.name, target=other.name)
    assert data_counts()["actions"] == before["actions"]
    assert other.animation_data is None or other.animation_data.action is None
