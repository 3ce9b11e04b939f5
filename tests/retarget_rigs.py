"""Test armatures for retargeting, built in code: a human skeleton (body and fingers) in a T- or
A-pose rest, with any proportions, named by one of the bone-map presets, whose bones point in one
of several conventions. Z up, the body faces -Y, its left is +X (Blender's front view).

Conventions (how each bone's tail and roll are chosen; the joints are the same in all of them):
- ``limbs``: a bone runs from its joint to its limb child's joint (Mixamo, Rigify, SMPL-X files);
  leaves continue their parent's direction;
- ``fixed_z``: every bone points straight up (+Z) whatever its limb does, as some exporters write;
- ``rolled``: as ``limbs``, each bone rolled by a random angle about itself;
- ``random``: every bone points a random way with a random roll.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np
from mathutils import Vector

from core.motion import bone_maps
from tests.fixtures.blender_helpers import ADDON_MODULE

CONVENTIONS = ("limbs", "fixed_z", "rolled", "random")
_FINGERS = ("index", "middle", "ring", "pinky")


def skeleton(pose: str = "T", legs: float = 1.0, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Rest joint positions by canonical name: 'T' (arms level) or 'A' (arms 40 degrees down);
    legs scales the legs' length, scale the whole body (about the floor)."""
    drop = np.radians(40.0) if pose == "A" else 0.0
    leg = 0.86 * legs
    hips = leg + 0.08  # ankle height over the floor
    heads: dict[str, np.ndarray] = {"pelvis": np.array([0.0, 0.0, hips + 0.06])}
    for j, rise in (("spine1", 0.1), ("spine2", 0.22), ("spine3", 0.34), ("neck", 0.5), ("head", 0.6)):
        heads[j] = heads["pelvis"] + np.array([0.0, 0.01, rise])
    forward = np.array([0.0, -1.0, 0.0])
    for side, s in (("left", 1.0), ("right", -1.0)):
        arm = np.array([s * np.cos(drop), 0.0, -np.sin(drop)])
        heads[f"{side}_collar"] = heads["spine3"] + np.array([s * 0.04, 0.0, 0.08])
        heads[f"{side}_shoulder"] = heads["spine3"] + np.array([s * 0.17, 0.0, 0.11])
        heads[f"{side}_elbow"] = heads[f"{side}_shoulder"] + 0.28 * arm
        heads[f"{side}_wrist"] = heads[f"{side}_elbow"] + 0.25 * arm
        for f, finger in enumerate(_FINGERS):
            base = heads[f"{side}_wrist"] + 0.08 * arm + forward * (0.03 - 0.02 * f)
            for i in (1, 2, 3):
                heads[f"{side}_{finger}{i}"] = base + 0.028 * (i - 1) * arm
        thumb = (arm + forward) / np.sqrt(2.0)
        for i in (1, 2, 3):
            heads[f"{side}_thumb{i}"] = (
                heads[f"{side}_wrist"] + forward * 0.02 + (0.02 + 0.03 * (i - 1)) * thumb
            )
        hip = heads["pelvis"] + np.array([s * 0.09, 0.0, -0.06])
        heads[f"{side}_hip"] = hip
        heads[f"{side}_knee"] = hip + leg * np.array([s * 0.01, -0.01, -0.5])
        heads[f"{side}_ankle"] = hip + leg * np.array([s * 0.02, 0.01, -1.0])
        heads[f"{side}_foot"] = heads[f"{side}_ankle"] + legs * np.array([0.0, -0.13, -0.06])
    return {j: p * scale for j, p in heads.items()}


def _tail_direction(joint: str, heads: dict[str, np.ndarray]) -> np.ndarray:
    child = bone_maps.limb_child(joint)
    if child in heads:
        return heads[child] - heads[joint]
    parent = bone_maps.canonical_parent(joint)
    if joint == "head" or parent is None:
        return np.array([0.0, 0.0, 0.15])
    return 0.5 * (heads[joint] - heads[parent])


def build(
    name: str,
    heads: dict[str, np.ndarray],
    preset: str = "MIXAMO",
    convention: str = "limbs",
    seed: int = 0,
    location: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Any:
    """An armature object in the scene with one bone per joint, named by the preset."""
    names = bone_maps.PRESETS[preset]
    rng = np.random.default_rng(seed)
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = location
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        for joint in bone_maps.CANONICAL:  # parents first
            if joint not in heads:
                continue
            bone = data.edit_bones.new(names[joint])
            bone.head = Vector(heads[joint])
            if convention == "fixed_z":
                direction = np.array([0.0, 0.0, 0.1])
            elif convention == "random":
                direction = rng.normal(size=3)
                direction *= 0.1 / np.linalg.norm(direction)
            else:
                direction = _tail_direction(joint, heads)
            bone.tail = Vector(heads[joint] + direction)
            if convention in ("rolled", "random"):
                bone.roll = float(rng.uniform(-np.pi, np.pi))
            parent = bone_maps.canonical_parent(joint)
            if parent is not None:
                bone.parent = data.edit_bones[names[parent]]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    return obj


@dataclass
class Figures:
    """How closely a retargeted target follows its source, over the sampled frames."""

    median_degrees: float  # limb directions (joint to mapped child joint), all limbs and frames
    worst_degrees: float
    hips_over_feet: float  # worst difference of the hips' height over the lowest foot, leg lengths
    hips_over_floor: float  # the same over the floor (source: its lowest foot; target: its rest feet)
    limbs: int


def measure(source: Any, target: Any, frames: list[int]) -> Figures:
    """Figures of the target's retarget from the source, with the target's stored bone map."""
    bake = importlib.import_module(f"{ADDON_MODULE}.blender.animate.retarget_bake")
    maths = importlib.import_module(f"{ADDON_MODULE}.core.motion.retarget")
    pairs = [(p.name, p.source, p.target) for p in target.gavatar_retarget.pairs if p.enabled]
    joints = [p[0] for p in pairs]
    src = bake.sample_heads(bpy.context, source, [p[1] for p in pairs], frames)
    dst = bake.sample_heads(bpy.context, target, [p[2] for p in pairs], frames)
    angles = maths.limb_angles(src, dst, joints)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    legs, rests = [], []
    for armature, column in ((source, 1), (target, 2)):
        rest = bake.rest_heads(armature, depsgraph)
        rests.append(np.array([rest[p[column]] for p in pairs]))
        legs.append(maths.mean_leg_length({p[0]: rest[p[column]] for p in pairs}))
    over_feet = maths.hips_over_feet(src, joints, legs[0]) - maths.hips_over_feet(dst, joints, legs[1])
    feet = [i for i, j in enumerate(joints) if j in bone_maps.FOOT_JOINTS]
    pelvis = joints.index("pelvis")
    # The source's floor is where its feet go lowest over the frames; the target's where they stand
    # at rest, so a target that floats or sinks as a whole shows here.
    floors = (src[:, feet, 2].min(), rests[1][feet, 2].min())
    over_floor = [(h[:, pelvis, 2] - f) / leg for h, f, leg in zip((src, dst), floors, legs, strict=True)]
    return Figures(
        median_degrees=float(np.median(angles)),
        worst_degrees=float(angles.max()),
        hips_over_feet=float(np.abs(over_feet).max()),
        hips_over_floor=float(np.abs(over_floor[0] - over_floor[1]).max()),
        limbs=int(angles.shape[1]),
    )
