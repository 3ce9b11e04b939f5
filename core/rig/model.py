"""The rig model of contract 1: everything a FLAME / SMPL-X / SMPL-H forward needs, as numpy.

Arrays keep the models' own conventions: Y-up, metres, joints in kinematic order (parents first).
Blender places a model point (x, y, z) at (x, -z, y); that conversion lives in the Blender objects,
never in these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Family = Literal["FLAME", "SMPLX", "SMPLH"]

FLAME_JOINT_NAMES: tuple[str, ...] = ("root", "neck", "jaw", "left_eye", "right_eye")

_SMPL_BODY: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)  # fmt: skip
_FINGERS: tuple[str, ...] = tuple(
    f"{finger}{i}" for finger in ("index", "middle", "pinky", "ring", "thumb") for i in (1, 2, 3)
)
SMPLX_JOINT_NAMES: tuple[str, ...] = (
    _SMPL_BODY
    + ("jaw", "left_eye_smplhf", "right_eye_smplhf")
    + tuple(f"left_{f}" for f in _FINGERS)
    + tuple(f"right_{f}" for f in _FINGERS)
)
SMPLH_JOINT_NAMES: tuple[str, ...] = (
    _SMPL_BODY + tuple(f"left_{f}" for f in _FINGERS) + tuple(f"right_{f}" for f in _FINGERS)
)
# Kinematic trees as the official files store them (kintree_table[0], root = -1).
FLAME_PARENTS: tuple[int, ...] = (-1, 0, 1, 1, 1)
_SMPL_BODY_PARENTS: tuple[int, ...] = (
    -1,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    9,
    9,
    12,
    13,
    14,
    16,
    17,
    18,
    19,
)


def _hand_parents(wrist: int, first: int) -> tuple[int, ...]:
    # Five fingers of three joints each (index, middle, pinky, ring, thumb), chained from the wrist.
    out: list[int] = []
    for finger in range(5):
        base = first + 3 * finger
        out += [wrist, base, base + 1]
    return tuple(out)


SMPLX_PARENTS: tuple[int, ...] = (
    _SMPL_BODY_PARENTS + (15, 15, 15) + _hand_parents(20, 25) + _hand_parents(21, 40)
)
SMPLH_PARENTS: tuple[int, ...] = _SMPL_BODY_PARENTS + _hand_parents(20, 22) + _hand_parents(21, 37)
PARENTS: dict[str, tuple[int, ...]] = {"FLAME": FLAME_PARENTS, "SMPLX": SMPLX_PARENTS, "SMPLH": SMPLH_PARENTS}

JOINT_NAMES: dict[str, tuple[str, ...]] = {
    "FLAME": FLAME_JOINT_NAMES,
    "SMPLX": SMPLX_JOINT_NAMES,
    "SMPLH": SMPLH_JOINT_NAMES,
}


@dataclass(frozen=True, eq=False)
class RigModel:
    """A linear blend skinning body/head model. V vertices, F faces, J joints.

    shape_dirs (V,3,S) and expr_dirs (V,3,E) are the identity and expression bases (E may be 0);
    pose_dirs (V,3,P) with P = 9*(J-1) are the pose correctives, driven by the flattened
    (R_j - I) of every joint but the root, as in SMPL/FLAME.
    """

    family: Family
    v_template: np.ndarray  # (V,3) float64
    faces: np.ndarray  # (F,3) int32
    shape_dirs: np.ndarray  # (V,3,S)
    expr_dirs: np.ndarray  # (V,3,E)
    pose_dirs: np.ndarray  # (V,3,9*(J-1))
    joint_regressor: np.ndarray  # (J,V) dense
    weights: np.ndarray  # (V,J)
    parents: np.ndarray  # (J,) int64, parents[0] == -1
    joint_names: tuple[str, ...]
    gender: str = "neutral"
    # SMPL-X / SMPL-H hand PCA (45,45) and hand means (45,); None for FLAME.
    hands_components_left: np.ndarray | None = None
    hands_components_right: np.ndarray | None = None
    hands_mean_left: np.ndarray | None = None
    hands_mean_right: np.ndarray | None = None
    # Names for the expression coefficients where the model has them (the stand-ins do).
    expression_names: tuple[str, ...] = ()
    # Where it came from, for the avatar header (name and checksum, never the data itself).
    source_name: str = ""
    source_sha256: str = ""
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.parents.shape[0])

    @property
    def num_shape(self) -> int:
        return int(self.shape_dirs.shape[2])

    @property
    def num_expression(self) -> int:
        return int(self.expr_dirs.shape[2])

    @property
    def num_pose_features(self) -> int:
        return 9 * (self.num_joints - 1)
