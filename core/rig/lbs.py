"""Linear blend skinning in numpy: the one forward Blender-side code uses.

Same meaning as the ``smplx`` package's ``lbs``: blend shapes, joint regression from the shaped
template, pose correctives from (R - I) of every non-root joint, forward kinematics, skinning,
then translation. ``training/twins/lbs.py`` is its torch twin; tests hold the two together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import RigModel


@dataclass(frozen=True)
class RigOutput:
    vertices: np.ndarray  # (V,3) posed
    joints: np.ndarray  # (J,3) posed joint positions
    rest_joints: np.ndarray  # (J,3) joints of the shaped rest mesh
    shaped_vertices: np.ndarray  # (V,3) rest mesh with shape + expression (no pose)
    transforms: np.ndarray  # (J,4,4) world transform of each joint (rest joint -> posed)


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues' formula for (...,3) axis-angle vectors -> (...,3,3) rotation matrices."""
    aa = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    safe = np.where(angle < 1e-12, 1.0, angle)
    axis = aa / safe
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zeros = np.zeros_like(x)
    skew = np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=-1).reshape(aa.shape[:-1] + (3, 3))
    sin = np.sin(angle)[..., None]
    cos = np.cos(angle)[..., None]
    eye = np.broadcast_to(np.eye(3), skew.shape)
    rot = eye + sin * skew + (1.0 - cos) * (skew @ skew)
    return np.where((angle < 1e-12)[..., None], eye, rot)


def pose_features(rotations: np.ndarray) -> np.ndarray:
    """(J,3,3) joint rotations -> the 9*(J-1) pose-corrective features (R_j - I, root excluded)."""
    return (rotations[1:] - np.eye(3)).reshape(-1)


def _pad(vec: np.ndarray | None, size: int) -> np.ndarray:
    out = np.zeros(size)
    if vec is not None:
        v = np.asarray(vec, dtype=np.float64).reshape(-1)[:size]
        out[: v.shape[0]] = v
    return out


def shaped_rest(
    model: RigModel, betas: np.ndarray | None = None, expression: np.ndarray | None = None
) -> np.ndarray:
    """Rest mesh with identity and expression blend shapes applied. Missing coefficients are 0;
    extra ones beyond the model's bases are ignored."""
    v = model.v_template.astype(np.float64, copy=True)
    # (3V, K) @ (K,) runs as one BLAS matrix-vector product; (V,3,K) @ (K,) would not.
    if model.num_shape:
        v += (model.shape_dirs.reshape(-1, model.num_shape) @ _pad(betas, model.num_shape)).reshape(v.shape)
    if model.num_expression:
        dirs = model.expr_dirs.reshape(-1, model.num_expression)
        v += (dirs @ _pad(expression, model.num_expression)).reshape(v.shape)
    return v


def forward_kinematics(rotations: np.ndarray, rest_joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """World 4x4 transform of each joint frame; parents must precede children."""
    num = rotations.shape[0]
    local = np.zeros((num, 4, 4))
    local[:, :3, :3] = rotations
    local[:, 3, 3] = 1.0
    offsets = rest_joints.copy()
    offsets[1:] -= rest_joints[parents[1:]]
    local[:, :3, 3] = offsets
    world = np.empty_like(local)
    world[0] = local[0]
    for j in range(1, num):
        world[j] = world[parents[j]] @ local[j]
    return world


def forward(
    model: RigModel,
    betas: np.ndarray | None = None,
    expression: np.ndarray | None = None,
    pose: np.ndarray | None = None,
    transl: np.ndarray | None = None,
    vertex_offsets: np.ndarray | None = None,
) -> RigOutput:
    """Posed mesh and joints.

    pose: (J,3) or (3J,) axis-angle per joint in the model's joint order (None: rest pose).
    vertex_offsets: optional (V,3) per-vertex offsets added to the shaped rest mesh before joint
    regression (FLAME tracking's ``static_offset``).
    """
    shaped = shaped_rest(model, betas, expression)
    if vertex_offsets is not None:
        shaped = shaped + np.asarray(vertex_offsets, dtype=np.float64).reshape(shaped.shape)
    rest_joints = model.joint_regressor @ shaped
    if pose is None:
        pose = np.zeros((model.num_joints, 3))
    rotations = axis_angle_to_matrix(np.asarray(pose, dtype=np.float64).reshape(model.num_joints, 3))
    correctives = model.pose_dirs.reshape(-1, model.num_pose_features) @ pose_features(rotations)
    posed_rest = shaped + correctives.reshape(shaped.shape)
    world = forward_kinematics(rotations, rest_joints, model.parents)
    # Skinning transforms map rest-pose points: subtract each joint's rest position first.
    skin = world.copy()
    skin[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], rest_joints)
    blended = (model.weights @ skin.reshape(model.num_joints, 16)).reshape(-1, 4, 4)
    vertices = (blended[:, :3, :3] @ posed_rest[:, :, None])[:, :, 0] + blended[:, :3, 3]
    joints = world[:, :3, 3].copy()
    if transl is not None:
        t = np.asarray(transl, dtype=np.float64).reshape(3)
        vertices += t
        joints += t
        world[:, :3, 3] += t
    return RigOutput(
        vertices=vertices, joints=joints, rest_joints=rest_joints, shaped_vertices=shaped, transforms=world
    )
