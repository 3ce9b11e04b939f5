"""How Anny's bones become the joints of FLAME (5) and SMPL-X (55).

Each target joint names the Anny bone(s) it takes over and where it sits (a bone head, or the mean
of several). Every other Anny bone folds into the joint of its nearest mapped ancestor (bones with
none fold into the root); its skinning weights are added to that joint's.

Folded bones also say how they move in the "rich" reference pose used to fit the pose correctives
(Anny's own weights over all 163 bones, the folded bones posed between their joint and the next
mapped joint down their chain):
- ``rigid``: with their joint (toes, metacarpals, face and tongue bones, pelvis and breast bones);
- ``full``: a fraction of the next joint's rotation, about that joint (spine, neck, shoulder helper);
- ``twist``: a fraction of the next joint's twist about the limb axis (upper/lower arm and leg twist
  bones), the classic candy-wrapper corrective.
The fraction is where the bone's middle sits between the two joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.rig.model import FLAME_JOINT_NAMES, FLAME_PARENTS, SMPLX_JOINT_NAMES, SMPLX_PARENTS

from .anny_source import AnnyBody


@dataclass(frozen=True)
class JointSpec:
    name: str
    bones: tuple[str, ...]  # Anny bones this joint takes over
    position: tuple[str, ...] = ()  # bones whose heads' mean is the joint (default: bones[0])


@dataclass(frozen=True)
class RigMapping:
    family: str
    joints: tuple[JointSpec, ...]
    parents: tuple[int, ...]
    folds: dict[str, str] = field(default_factory=dict)  # bone -> 'full' | 'twist' (others: rigid)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)


_SIDES = (("left", "L"), ("right", "R"))
# SMPL-X finger order (index, middle, pinky, ring, thumb) -> Anny finger numbers (1 = thumb).
_FINGERS = (("index", 2), ("middle", 3), ("pinky", 5), ("ring", 4), ("thumb", 1))


def _smplx_specs() -> tuple[JointSpec, ...]:
    body: dict[str, JointSpec] = {"pelvis": JointSpec("pelvis", ("root",), ("spine05",))}
    for side, s in _SIDES:
        body[f"{side}_hip"] = JointSpec(f"{side}_hip", (f"upperleg01.{s}",))
        body[f"{side}_knee"] = JointSpec(f"{side}_knee", (f"lowerleg01.{s}",))
        body[f"{side}_ankle"] = JointSpec(f"{side}_ankle", (f"foot.{s}",))
        toes = tuple(f"toe{t}-1.{s}" for t in range(1, 6))
        body[f"{side}_foot"] = JointSpec(f"{side}_foot", toes, toes)
        body[f"{side}_collar"] = JointSpec(f"{side}_collar", (f"clavicle.{s}",))
        body[f"{side}_shoulder"] = JointSpec(f"{side}_shoulder", (f"upperarm01.{s}",))
        body[f"{side}_elbow"] = JointSpec(f"{side}_elbow", (f"lowerarm01.{s}",))
        body[f"{side}_wrist"] = JointSpec(f"{side}_wrist", (f"wrist.{s}",))
        body[f"{side}_eye_smplhf"] = JointSpec(f"{side}_eye_smplhf", (f"eye.{s}",))
        for finger, number in _FINGERS:
            for k in (1, 2, 3):
                name = f"{side}_{finger}{k}"
                body[name] = JointSpec(name, (f"finger{number}-{k}.{s}",))
    for name, bone in (("spine1", "spine04"), ("spine2", "spine02"), ("spine3", "spine01")):
        body[name] = JointSpec(name, (bone,))
    for name in ("neck", "head", "jaw"):
        body[name] = JointSpec(name, ({"neck": "neck01"}.get(name, name),))
    return tuple(body[name] for name in SMPLX_JOINT_NAMES)


SMPLX_MAPPING = RigMapping(
    family="SMPLX",
    joints=_smplx_specs(),
    parents=SMPLX_PARENTS,
    folds={
        "spine05": "full",
        "spine03": "full",
        "neck02": "full",
        "neck03": "full",
        **{f"shoulder01.{s}": "full" for _, s in _SIDES},
        **{f"upperarm02.{s}": "twist" for _, s in _SIDES},
        **{f"lowerarm02.{s}": "twist" for _, s in _SIDES},
        **{f"upperleg02.{s}": "twist" for _, s in _SIDES},
        **{f"lowerleg02.{s}": "twist" for _, s in _SIDES},
    },
)

FLAME_MAPPING = RigMapping(
    family="FLAME",
    joints=(
        JointSpec("root", ("neck01",)),
        JointSpec("neck", ("head",)),
        JointSpec("jaw", ("jaw",)),
        JointSpec("left_eye", ("eye.L",)),
        JointSpec("right_eye", ("eye.R",)),
    ),
    parents=FLAME_PARENTS,
    folds={"neck02": "full", "neck03": "full"},
)
assert FLAME_MAPPING.joint_names == FLAME_JOINT_NAMES


@dataclass(frozen=True)
class BoundMapping:
    """A RigMapping resolved against an Anny body."""

    mapping: RigMapping
    bone_joint: np.ndarray  # (B,) target joint of every Anny bone
    bone_rule: tuple[str, ...]  # 'mapped', 'rigid', 'full' or 'twist' per bone
    bone_child: np.ndarray  # (B,) next mapped joint for 'full'/'twist' bones, else -1
    bone_fraction: np.ndarray  # (B,) fraction of that joint's rotation
    joint_position_bones: tuple[tuple[int, ...], ...]  # per joint, bones whose heads average to it

    def merged_weights(self, weights: np.ndarray) -> np.ndarray:
        """(V,B) Anny weights -> (V,J) by summing each joint's bones."""
        out = np.zeros((weights.shape[0], len(self.mapping.joints)))
        np.add.at(out.T, self.bone_joint, weights.T)
        return out

    def joint_positions(self, bone_heads: np.ndarray) -> np.ndarray:
        """(...,B,3) bone heads -> (...,J,3) joints."""
        return np.stack(
            [bone_heads[..., list(b), :].mean(axis=-2) for b in self.joint_position_bones], axis=-2
        )


def bind(mapping: RigMapping, body: AnnyBody) -> BoundMapping:
    """Resolve bone names, fold the other bones and check the joint tree matches the family's."""
    nb = len(body.bone_labels)
    owner = np.full(nb, -1)
    for j, spec in enumerate(mapping.joints):
        for bone in spec.bones:
            owner[body.bone(bone)] = j
    joint_of = owner.copy()
    for b in range(nb):  # parents come first in Anny's bone order
        if joint_of[b] < 0:
            parent = body.bone_parents[b]
            joint_of[b] = joint_of[parent] if parent >= 0 else 0
    # The joint tree implied by Anny's hierarchy must be the family's.
    for j, spec in enumerate(mapping.joints):
        bone = body.bone(spec.bones[0])
        parent = body.bone_parents[bone]
        implied = joint_of[parent] if parent >= 0 else -1
        expected = mapping.parents[j]
        if j > 0 and implied != expected:
            raise AssertionError(
                f"{spec.name}: Anny's hierarchy gives parent {implied}, {mapping.family} has {expected}"
            )

    rules: list[str] = []
    child = np.full(nb, -1)
    fraction = np.zeros(nb)
    position_bones = tuple(tuple(body.bone(b) for b in (s.position or s.bones[:1])) for s in mapping.joints)
    joint_pos = np.stack([body.bone_heads[list(b)].mean(axis=0) for b in position_bones])
    children = [[c for c, p in enumerate(body.bone_parents) if p == b] for b in range(nb)]
    for b, label in enumerate(body.bone_labels):
        if owner[b] >= 0:
            rules.append("mapped")
            continue
        rule = mapping.folds.get(label, "rigid")
        rules.append(rule)
        if rule == "rigid":
            continue
        # The next mapped joint down this bone's chain (it must be unique).
        frontier, found = list(children[b]), set()
        while frontier:
            c = frontier.pop()
            if owner[c] >= 0:
                found.add(int(owner[c]))
            else:
                frontier.extend(children[c])
        if len(found) != 1:
            raise AssertionError(f"{label}: folded bone leads to joints {sorted(found)}, expected one")
        c = found.pop()
        j = int(joint_of[b])
        middle = 0.5 * (body.bone_heads[b] + body.bone_tails[b])
        seg = joint_pos[c] - joint_pos[j]
        child[b] = c
        fraction[b] = float(np.clip(np.dot(middle - joint_pos[j], seg) / np.dot(seg, seg), 0.0, 1.0))
    return BoundMapping(
        mapping=mapping,
        bone_joint=joint_of,
        bone_rule=tuple(rules),
        bone_child=child,
        bone_fraction=fraction,
        joint_position_bones=position_bones,
    )
