"""Small generated rig models with FLAME's and SMPL-X's joint trees, for tests that need no licensed files.

Vertices scatter along the bones; skinning weights fall off with distance (rows sum to 1); the
joint regressor averages nearby vertices (so shape and expression bases move the joints, as real
models' do); shape, expression and pose-corrective bases are smooth random fields.
"""

from __future__ import annotations

import numpy as np

from engine.rig.model import FLAME_JOINT_NAMES, SMPLX_JOINT_NAMES, RigModel

FLAME_PARENTS = np.array([-1, 0, 1, 1, 1])
_SMPL_BODY_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]


def _smplx_parents() -> np.ndarray:
    parents = list(_SMPL_BODY_PARENTS) + [15, 15, 15]  # jaw, eyes under the head
    for wrist in (20, 21):
        for _finger in range(5):
            base = len(parents)
            parents += [wrist, base, base + 1]
    return np.array(parents)


SMPLX_PARENTS = _smplx_parents()


def _joint_positions(parents: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    joints = np.zeros((len(parents), 3))
    for j in range(1, len(parents)):
        offset = rng.normal(size=3)
        offset[1] = abs(offset[1]) + 0.5  # mostly upward, like a body
        joints[j] = joints[parents[j]] + scale * offset / np.linalg.norm(offset)
    return joints


def _smooth_field(points: np.ndarray, rng: np.random.Generator, count: int, amplitude: float) -> np.ndarray:
    """count smooth random displacement fields over points: (V,3,count)."""
    if count == 0:
        return np.zeros((points.shape[0], 3, 0))
    centres = points[rng.integers(0, points.shape[0], size=(count, 4))]  # (count,4,3)
    dist2 = ((points[None, None] - centres[:, :, None]) ** 2).sum(-1)  # (count,4,V)
    spread = np.ptp(points, axis=0).max() * 0.3
    bumps = np.exp(-dist2 / (2 * spread**2))
    directions = rng.normal(size=(count, 4, 3))
    field = np.einsum("ckv,ckd->vdc", bumps, directions)
    return amplitude * field / max(np.abs(field).max(), 1e-12)


def make_model(
    family: str,
    *,
    seed: int = 0,
    vertices_per_bone: int = 24,
    num_shape: int = 8,
    num_expression: int = 6,
    expression_names: tuple[str, ...] = (),
) -> RigModel:
    rng = np.random.default_rng(seed)
    if family == "FLAME":
        parents, names, scale = FLAME_PARENTS, FLAME_JOINT_NAMES, 0.06
    elif family == "SMPLX":
        parents, names, scale = SMPLX_PARENTS, SMPLX_JOINT_NAMES, 0.12
    else:
        raise ValueError(family)
    joints = _joint_positions(parents, rng, scale)
    num_joints = len(parents)
    # Vertices along each bone (from parent joint to joint), with some spread around it.
    pts = []
    for j in range(num_joints):
        start = joints[parents[j]] if parents[j] >= 0 else joints[j] - np.array([0, scale, 0])
        t = rng.uniform(0, 1, size=(vertices_per_bone, 1))
        pts.append(
            start + t * (joints[j] - start) + rng.normal(scale=scale * 0.2, size=(vertices_per_bone, 3))
        )
    v_template = np.concatenate(pts)
    num_vertices = v_template.shape[0]
    # Triangles between each vertex and two of its nearest neighbours.
    dist = ((v_template[:, None] - v_template[None]) ** 2).sum(-1)
    nearest = np.argsort(dist, axis=1)[:, 1:3]
    faces = np.concatenate([np.arange(num_vertices)[:, None], nearest], axis=1).astype(np.int32)
    # Skinning: Gaussian falloff from each joint, top 4 kept, rows normalised.
    joint_dist2 = ((v_template[:, None] - joints[None]) ** 2).sum(-1)
    weights = np.exp(-joint_dist2 / (2 * (scale * 0.6) ** 2)) + 1e-12
    cutoff = np.sort(weights, axis=1)[:, -4][:, None]
    weights = np.where(weights >= cutoff, weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    # Regressor: each joint averages its 6 nearest vertices (non-negative, rows sum to 1).
    regressor = np.zeros((num_joints, num_vertices))
    for j in range(num_joints):
        near = np.argsort(joint_dist2[:, j])[:6]
        w = rng.uniform(0.5, 1.0, size=6)
        regressor[j, near] = w / w.sum()
    shape_dirs = _smooth_field(v_template, rng, num_shape, 0.01)
    expr_dirs = _smooth_field(v_template, rng, num_expression, 0.01)
    pose_dirs = _smooth_field(v_template, rng, 9 * (num_joints - 1), 0.004)
    return RigModel(
        family=family,  # type: ignore[arg-type]
        v_template=v_template,
        faces=faces,
        shape_dirs=shape_dirs,
        expr_dirs=expr_dirs,
        pose_dirs=pose_dirs,
        joint_regressor=regressor,
        weights=weights,
        parents=parents.astype(np.int64),
        joint_names=names,
        expression_names=expression_names,
        source_name=f"generated-{family.lower()}-{seed}",
        source_sha256="0" * 64,
    )


def random_inputs(model: RigModel, rng: np.random.Generator, angle: float = 0.6) -> dict[str, np.ndarray]:
    """Random forward inputs: betas, expression, pose (J,3) and transl."""
    return {
        "betas": rng.normal(scale=1.5, size=model.num_shape),
        "expression": rng.normal(scale=1.5, size=model.num_expression),
        "pose": rng.normal(scale=angle, size=(model.num_joints, 3)),
        "transl": rng.normal(scale=0.3, size=3),
    }
