"""Bone-name presets for retargeting: each maps our canonical joints (SMPL-X body and finger
names) to the bone names of one convention. Users edit the resulting map in the panel."""

from __future__ import annotations

from ..rig.model import SMPLX_JOINT_NAMES, SMPLX_PARENTS

CANONICAL: tuple[str, ...] = tuple(n for n in SMPLX_JOINT_NAMES if n not in ("jaw",))

_SIDES = {"left": "Left", "right": "Right"}
_MIXAMO_BODY = {
    "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
    "head": "Head", "left_collar": "LeftShoulder", "right_collar": "RightShoulder",
    "left_shoulder": "LeftArm", "right_shoulder": "RightArm", "left_elbow": "LeftForeArm",
    "right_elbow": "RightForeArm", "left_wrist": "LeftHand", "right_wrist": "RightHand",
    "left_hip": "LeftUpLeg", "right_hip": "RightUpLeg", "left_knee": "LeftLeg", "right_knee": "RightLeg",
    "left_ankle": "LeftFoot", "right_ankle": "RightFoot", "left_foot": "LeftToeBase",
    "right_foot": "RightToeBase",
}  # fmt: skip
_FINGER_WORDS = {"index": "Index", "middle": "Middle", "ring": "Ring", "pinky": "Pinky", "thumb": "Thumb"}


def _mixamo(prefix: str) -> dict[str, str]:
    out = {joint: prefix + name for joint, name in _MIXAMO_BODY.items()}
    for side, word in _SIDES.items():
        for finger, fword in _FINGER_WORDS.items():
            for i in (1, 2, 3):
                out[f"{side}_{finger}{i}"] = f"{prefix}{word}Hand{fword}{i}"
    return out


_RIGIFY_BODY = {
    "pelvis": "spine",
    "spine1": "spine.001",
    "spine2": "spine.002",
    "spine3": "spine.003",
    "neck": "spine.004",
    "head": "spine.006",
}
_RIGIFY_LIMBS = {
    "collar": "shoulder",
    "shoulder": "upper_arm",
    "elbow": "forearm",
    "wrist": "hand",
    "hip": "thigh",
    "knee": "shin",
    "ankle": "foot",
    "foot": "toe",
}
_RIGIFY_FINGERS = {"index": "f_index", "middle": "f_middle", "ring": "f_ring", "pinky": "f_pinky",
                   "thumb": "thumb"}  # fmt: skip


def _rigify(prefix: str) -> dict[str, str]:
    out = {joint: prefix + name for joint, name in _RIGIFY_BODY.items()}
    for side, suffix in (("left", ".L"), ("right", ".R")):
        for joint, name in _RIGIFY_LIMBS.items():
            out[f"{side}_{joint}"] = f"{prefix}{name}{suffix}"
        for finger, name in _RIGIFY_FINGERS.items():
            for i in (1, 2, 3):
                out[f"{side}_{finger}{i}"] = f"{prefix}{name}.0{i}{suffix}"
    return out


def _identity(names: tuple[str, ...]) -> dict[str, str]:
    return {n: n for n in names if n in CANONICAL}


# SMPL-H (AMASS bodies) differs from SMPL-X only by its eye joints, which it lacks.
PRESETS: dict[str, dict[str, str]] = {
    "SMPLX": _identity(SMPLX_JOINT_NAMES),
    "MIXAMO": _mixamo("mixamorig:"),
    "MIXAMO_PLAIN": _mixamo(""),
    "RIGIFY": _rigify("DEF-"),
    "RIGIFY_METARIG": _rigify(""),
}
PRESET_LABELS = {
    "SMPLX": "SMPL-X / SMPL-H / stand-in rigs",
    "MIXAMO": "Mixamo (mixamorig:)",
    "MIXAMO_PLAIN": "Mixamo (no prefix)",
    "RIGIFY": "Rigify deform bones (DEF-)",
    "RIGIFY_METARIG": "Rigify metarig",
}


def detect_preset(bone_names: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """The preset whose names cover the most of the given bones (at least 8), or None."""
    names = set(bone_names)
    best, best_hits = None, 7
    for preset, mapping in PRESETS.items():
        hits = sum(1 for bone in mapping.values() if bone in names)
        if hits > best_hits:
            best, best_hits = preset, hits
    return best


def bone_pairs(
    source_preset: str, target_preset: str, source_bones: set[str], target_bones: set[str]
) -> list[tuple[str, str]]:
    """(source bone, target bone) pairs for every canonical joint present in both armatures,
    in canonical (parents-first) order."""
    return [(s, t) for _, s, t in joint_pairs(source_preset, target_preset, source_bones, target_bones)]


def joint_pairs(
    source_preset: str, target_preset: str, source_bones: set[str], target_bones: set[str]
) -> list[tuple[str, str, str]]:
    """(canonical joint, source bone, target bone) for every joint present in both armatures."""
    src, dst = PRESETS[source_preset], PRESETS[target_preset]
    return [
        (j, src[j], dst[j])
        for j in CANONICAL
        if j in src and j in dst and src[j] in source_bones and dst[j] in target_bones
    ]


LEG_JOINTS = (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"))
FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")
# Joints whose limbs run sideways from the body in a rest pose (arms, hands, fingers).
ARM_JOINTS = frozenset(
    j for j in CANONICAL if any(w in j for w in ("collar", "shoulder", "elbow", "wrist", *_FINGER_WORDS))
)

# A joint's limb runs to its child; where there are several, to the one that continues the chain.
# Eyes and the jaw branch off the head and do not continue it.
_CHAIN_PRIORITY = ("spine1", "neck", "middle1")
_PARENT_OF = {
    name: (SMPLX_JOINT_NAMES[p] if p >= 0 else None)
    for name, p in zip(SMPLX_JOINT_NAMES, SMPLX_PARENTS, strict=True)
}


def _main_child(joint: str) -> str | None:
    children = [c for c, p in _PARENT_OF.items() if p == joint and c in CANONICAL and "eye" not in c]
    if len(children) > 1:
        children = [c for c in children if c.endswith(_CHAIN_PRIORITY)]
    return children[0] if len(children) == 1 else None


_LIMB_CHILD = {j: _main_child(j) for j in CANONICAL}


def limb_child(joint: str) -> str | None:
    """The canonical child joint that the limb of ``joint`` runs to (None: a leaf)."""
    return _LIMB_CHILD.get(joint)


def canonical_parent(joint: str) -> str | None:
    return _PARENT_OF.get(joint)
