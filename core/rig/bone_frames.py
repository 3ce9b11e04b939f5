"""Bone frames for an armature that reproduces the numpy forward (bpy-free, torch-free).

An armature bone j has a rest orientation ``B_j`` (3x3, columns = the bone's x, y, z axes in model
space; y points along the bone) and sits at the model's rest joint. A pose bone's local rotation
``R_local`` is expressed in that frame, so the model's joint rotation is ``R_j = B_j R_local B_j^T``
and ``R_j - I = B_j (R_local - I) B_j^T``: the pose-corrective features are a fixed linear map of
the local ``R_local - I`` entries, which lets correctives be driven from the bones' own channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .model import RigModel

# A bone this close to parallel with the model's x axis takes its z axis from the model's z instead.
_PARALLEL = 0.9
# Children that branch off rather than continue a chain (a head points up, not at an eye).
_BRANCHES = ("eye", "jaw")
# Where a joint has several children, the one named so continues the chain (SMPL-X / SMPL-H names).
_CHAIN_CONTINUES = ("spine1", "neck", "middle1")
_MIN_LENGTH = 0.005


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _frame_from_direction(direction: np.ndarray) -> np.ndarray:
    """Right-handed frame whose y is direction, with x (or else z) as close as possible to the model's."""
    y = _normalize(direction)
    ex, ez = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    if abs(float(y @ ex)) < _PARALLEL:
        x = _normalize(ex - (ex @ y) * y)
        z = np.cross(x, y)
    else:
        z = _normalize(ez - (ez @ y) * y)
        x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)


def _chain_child(
    joint: int, children: list[int], names: Sequence[str], joints: np.ndarray, incoming: np.ndarray
) -> int:
    """The child a bone points at: its only child, the one named as the chain's continuation, or
    the one most in line with the incoming direction; -1 when it has none to point at."""
    candidates = [
        c
        for c in children
        if not any(b in names[c] for b in _BRANCHES) and np.linalg.norm(joints[c] - joints[joint]) > 1e-6
    ]
    named = [c for c in candidates if names[c].endswith(_CHAIN_CONTINUES)]
    if len(candidates) > 1 and len(named) == 1:
        return named[0]
    best, best_cos = -1, -np.inf
    for child in candidates:
        to_child = _normalize(joints[child] - joints[joint])
        if float(to_child @ incoming) > best_cos:
            best, best_cos = child, float(to_child @ incoming)
    return best


def bone_layout(
    rest_joints: np.ndarray, parents: np.ndarray, joint_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heads (J,3), tails (J,3) and rest orientations (J,3,3) of bones that read well in a viewport.

    A bone runs from its joint to its child's joint (a thigh from hip to knee), as an animator
    expects; with several children, to the one that continues the chain (``_chain_child``). A bone
    without a child continues its parent's direction at half its parent's length, eyes look forward
    (model +z). Any orientation is exact for the forward: only the display and the bone axes differ.
    """
    joints = np.asarray(rest_joints, dtype=np.float64)
    num = joints.shape[0]
    children: list[list[int]] = [[] for _ in range(num)]
    for j in range(1, num):
        children[int(parents[j])].append(j)
    heads = joints.copy()
    tails = np.empty_like(joints)
    frames = np.empty((num, 3, 3))
    lengths = np.zeros(num)
    for j in range(num):  # parents come first, so a parent's length is known
        parent = int(parents[j])
        incoming = np.array([0.0, 1.0, 0.0]) if parent < 0 else joints[j] - joints[parent]
        if np.linalg.norm(incoming) < 1e-9:
            incoming = np.array([0.0, 1.0, 0.0])
        incoming = _normalize(incoming)
        best = _chain_child(j, children[j], joint_names, joints, incoming)
        if "eye" in joint_names[j]:
            direction = np.array([0.0, 0.0, 1.0])
            length = 0.02
        elif best >= 0:
            direction = joints[best] - joints[j]
            length = float(np.linalg.norm(direction))
        else:
            direction = incoming
            length = 0.5 * float(lengths[parent]) if parent >= 0 else 0.1
        length = max(length, _MIN_LENGTH)
        lengths[j] = length
        frames[j] = _frame_from_direction(direction)
        tails[j] = heads[j] + length * frames[j][:, 1]
    return heads, tails, frames


def model_to_local(rotations: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Model joint rotations (...,J,3,3) -> rotations in each bone's rest frame: B^T R B."""
    return np.einsum("jab,...jac,jcd->...jbd", frames, rotations, frames)


def local_to_model(local: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Bone-frame rotations (...,J,3,3) -> model joint rotations: B R_local B^T."""
    return np.einsum("jab,...jbc,jdc->...jad", frames, local, frames)


def correctives_in_bone_frames(pose_dirs: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The pose-corrective basis re-expressed per local (R_local - I) entry: (V,3,J-1,3,3).

    ``pose_dirs @ features(R)`` equals the sum over non-root joints j and entries (c, d) of
    ``out[:, :, j-1, c, d] * (R_local_j - I)[c, d]``.
    """
    num_vertices = pose_dirs.shape[0]
    per_joint = np.asarray(pose_dirs, dtype=np.float64).reshape(num_vertices * 3, -1, 9)
    out = np.empty_like(per_joint)
    for j, frame in enumerate(frames[1:]):
        # out[(c,d)] = sum_(a,b) P[(a,b)] B[a,c] B[b,d]: one (3V,9) @ (9,9) product per joint.
        out[:, j] = per_joint[:, j] @ np.kron(frame, frame)
    return out.reshape(num_vertices, 3, -1, 3, 3)


def joint_blendshapes(model: RigModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Template joints (J,3) and how each shape / expression coefficient moves them: (J,3,S), (J,3,E)."""
    regressor = model.joint_regressor
    num_joints, num_vertices = regressor.shape

    def regress(dirs: np.ndarray) -> np.ndarray:
        return (regressor @ dirs.reshape(num_vertices, -1)).reshape(num_joints, 3, dirs.shape[2])

    return regressor @ model.v_template, regress(model.shape_dirs), regress(model.expr_dirs)


# Quaternions are (w, x, y, z), as Blender's; conversions live in core.rotations.


def continuous_quaternions(quaternions: np.ndarray) -> np.ndarray:
    """Flips signs along the leading (frame) axis so consecutive keys interpolate the short way."""
    q = np.array(quaternions, dtype=np.float64, copy=True)
    for t in range(1, q.shape[0]):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t][flip] *= -1
    return q


# The entries of R - I for a unit quaternion (w, x, y, z): each corrective key's driver evaluates one
# of these on the bone's local rotation. Keyed by (row, column); each lists the variables it reads.
ROTATION_MINUS_IDENTITY: dict[tuple[int, int], tuple[str, tuple[str, ...]]] = {
    (0, 0): ("-2*(y*y+z*z)", ("y", "z")),
    (0, 1): ("2*(x*y-w*z)", ("w", "x", "y", "z")),
    (0, 2): ("2*(x*z+w*y)", ("w", "x", "y", "z")),
    (1, 0): ("2*(x*y+w*z)", ("w", "x", "y", "z")),
    (1, 1): ("-2*(x*x+z*z)", ("x", "z")),
    (1, 2): ("2*(y*z-w*x)", ("w", "x", "y", "z")),
    (2, 0): ("2*(x*z-w*y)", ("w", "x", "y", "z")),
    (2, 1): ("2*(y*z+w*x)", ("w", "x", "y", "z")),
    (2, 2): ("-2*(x*x+y*y)", ("x", "y")),
}
