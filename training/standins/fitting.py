"""Fitting the stand-in rigs' linear parts: identity basis, joint regressor, pose correctives.

numpy only (float64): these run once per build, on the CPU, in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.rig.lbs import axis_angle_to_matrix

from .mapping import BoundMapping

# ---------------------------------------------------------------------------------------------
# identity basis


@dataclass(frozen=True)
class ShapeBasis:
    vertex_dirs: np.ndarray  # (V,3,S): one standard deviation of the sampled identities per unit
    joint_dirs: np.ndarray  # (J,3,S): the joints' displacement along the same directions
    explained: np.ndarray  # (S,) fraction of the sampled variance each direction explains


def principal_shape_basis(vertex_offsets: np.ndarray, joint_offsets: np.ndarray, count: int) -> ShapeBasis:
    """PCA of sampled identities around the default body (not their mean: beta = 0 is the default).

    vertex_offsets (N,V,3), joint_offsets (N,J,3): displacement of each sample from the default.
    Directions are scaled by their standard deviation, so coefficients are about N(0, 1) like SMPL's
    betas; signs are fixed (largest vertex component positive) so the build is deterministic.
    """
    n = vertex_offsets.shape[0]
    d = vertex_offsets.reshape(n, -1)
    gram = d @ d.T / n
    values, vectors = np.linalg.eigh(gram)
    order = np.argsort(values)[::-1][:count]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    # Direction k = D^T u_k / sqrt(n): has norm sqrt(lambda_k), i.e. one standard deviation.
    vdirs = (d.T @ vectors) / np.sqrt(n)
    jdirs = (joint_offsets.reshape(n, -1).T @ vectors) / np.sqrt(n)
    for k in range(vdirs.shape[1]):
        if vdirs[np.argmax(np.abs(vdirs[:, k])), k] < 0:
            vdirs[:, k] *= -1
            jdirs[:, k] *= -1
    total = np.trace(gram)
    nv, nj = vertex_offsets.shape[1], joint_offsets.shape[1]
    return ShapeBasis(
        vertex_dirs=vdirs.reshape(nv, 3, -1),
        joint_dirs=jdirs.reshape(nj, 3, -1),
        explained=values / total if total > 0 else values,
    )


# ---------------------------------------------------------------------------------------------
# joint regressor


def fit_joint_regressor(
    vertices: np.ndarray,
    vertex_dirs: np.ndarray,
    joints: np.ndarray,
    joint_dirs: np.ndarray,
    *,
    extra_candidates: int = 1500,
    candidates: list[np.ndarray] | None = None,
) -> np.ndarray:
    """(J,V) regressor with J = R v for the template and for every direction of the bases.

    vertices (V,3), vertex_dirs (V,3,K), joints (J,3), joint_dirs (J,3,K). Each joint uses the
    vertices nearest to it (enough to satisfy 3(K+1) equations, plus ``extra_candidates``), with
    weights summing to 1 (so a translated mesh translates the joints) and as close to uniform as the
    equations allow.
    """
    nv, nj, k = vertices.shape[0], joints.shape[0], vertex_dirs.shape[2]
    regressor = np.zeros((nj, nv))
    needed = 3 * (k + 1) + 1 + extra_candidates
    for j in range(nj):
        if candidates is not None and candidates[j] is not None:
            idx = candidates[j]
        else:
            dist = np.linalg.norm(vertices - joints[j], axis=1)
            idx = np.argsort(dist, kind="stable")[: min(needed, nv)]
        n = idx.size
        # Rows: template (3), each direction (3K), sum to one (1).
        rows = [vertices[idx].T, vertex_dirs[idx].transpose(1, 2, 0).reshape(3 * k, n), np.ones((1, n))]
        rhs = [joints[j], joint_dirs[j].reshape(3 * k), np.ones(1)]
        a = np.concatenate(rows)
        b = np.concatenate(rhs)
        # Minimum change from uniform weights that satisfies the equations (least squares if it cannot).
        w0 = np.full(n, 1.0 / n)
        delta, *_ = np.linalg.lstsq(a, b - a @ w0, rcond=1e-12)
        regressor[j, idx] = w0 + delta
    return regressor


# ---------------------------------------------------------------------------------------------
# rigid transforms as (...,3,4) arrays


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a o b) for (...,3,4) affine maps."""
    rot = a[..., :3, :3] @ b[..., :3, :3]
    trans = (a[..., :3, :3] @ b[..., :3, 3:4])[..., 0] + a[..., :3, 3]
    return np.concatenate([rot, trans[..., None]], axis=-1)


def _rotation_about(rot: np.ndarray, point: np.ndarray) -> np.ndarray:
    """x -> R (x - p) + p as (...,3,4)."""
    trans = point - (rot @ point[..., None])[..., 0]
    return np.concatenate([rot, trans[..., None]], axis=-1)


def skinning_transforms(pose: np.ndarray, rest_joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(N,J,3) axis-angle -> (N,J,3,4) maps from rest to posed space (SMPL forward kinematics)."""
    n, nj = pose.shape[:2]
    rot = axis_angle_to_matrix(pose)
    world_r = np.empty_like(rot)
    world_t = np.empty((n, nj, 3))
    world_r[:, 0] = rot[:, 0]
    world_t[:, 0] = rest_joints[0]
    for j in range(1, nj):
        p = parents[j]
        world_r[:, j] = world_r[:, p] @ rot[:, j]
        world_t[:, j] = world_r[:, p] @ (rest_joints[j] - rest_joints[p]) + world_t[:, p]
    trans = world_t - (world_r @ rest_joints[None, :, :, None])[..., 0]
    return np.concatenate([world_r, trans[..., None]], axis=-1)


def twist_angle(pose: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Angle of the twist part of rotations (...,3 axis-angle) about unit ``axis`` (...,3)."""
    theta = np.linalg.norm(pose, axis=-1)
    half = 0.5 * theta
    scale = np.where(theta > 1e-12, np.sin(half) / np.where(theta > 1e-12, theta, 1.0), 0.5)
    along = scale * np.sum(pose * axis, axis=-1)
    return 2.0 * np.arctan2(along, np.cos(half))


def rich_bone_transforms(
    pose: np.ndarray, skin: np.ndarray, rest_joints: np.ndarray, bound: BoundMapping
) -> np.ndarray:
    """(N,B,3,4) transforms of every Anny bone for poses of the target joints (see mapping.py)."""
    n = pose.shape[0]
    out = skin[:, bound.bone_joint].copy()
    for b, rule in enumerate(bound.bone_rule):
        if rule not in ("full", "twist"):
            continue
        j, c, alpha = int(bound.bone_joint[b]), int(bound.bone_child[b]), float(bound.bone_fraction[b])
        if rule == "full":
            partial = axis_angle_to_matrix(alpha * pose[:, c])
        else:
            axis = rest_joints[c] - rest_joints[j]
            axis = axis / np.linalg.norm(axis)
            angle = alpha * twist_angle(pose[:, c], np.broadcast_to(axis, (n, 3)))
            partial = axis_angle_to_matrix(angle[:, None] * axis[None])
        local = _rotation_about(partial, np.broadcast_to(rest_joints[c], (n, 3)))
        out[:, b] = _compose(skin[:, j], local)
    return out


def blend_points(weights: np.ndarray, transforms: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Linear blend skinning: weights (V,T), transforms (N,T,3,4), points (V,3) -> (N,V,3)."""
    n, t = transforms.shape[:2]
    blended = (weights @ transforms.transpose(1, 0, 2, 3).reshape(t, n * 12)).reshape(-1, n, 3, 4)
    blended = blended.transpose(1, 0, 2, 3)
    return (blended[..., :3] @ points[None, :, :, None])[..., 0] + blended[..., 3]


# ---------------------------------------------------------------------------------------------
# pose correctives


@dataclass(frozen=True)
class CorrectiveFit:
    pose_dirs: np.ndarray  # (V,3,9(J-1))
    rms_without: float  # held-out RMS vertex error of plain LBS against the rich reference (m)
    rms_with: float  # ... with the fitted correctives
    max_without: float
    max_with: float
    samples: int


def fit_pose_correctives(
    rest_vertices: np.ndarray,
    merged_weights: np.ndarray,
    anny_weights: np.ndarray,
    rest_joints: np.ndarray,
    parents: np.ndarray,
    bound: BoundMapping,
    sample_pose: Callable[[np.random.Generator, int], np.ndarray],
    *,
    samples: int,
    held_out: int,
    seed: int,
    batch: int = 100,
    ridge: float = 1e-6,
) -> CorrectiveFit:
    """Least-squares pose correctives: our J-joint LBS plus P f(R) reproduces the rich reference.

    The residual is measured in the rest pose (each rich vertex un-posed by our own blended
    transform), as SMPL's pose blend shapes are. Each vertex is driven only by the joints that can
    change its residual: the joints its Anny bones fold toward, and the joints of those bones.
    """
    rng = np.random.default_rng(seed)
    nv, nj = merged_weights.shape
    nf = 9 * (nj - 1)
    gram = np.zeros((nf, nf))
    cross = np.zeros((nf, nv * 3))

    def residuals(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        skin = skinning_transforms(pose, rest_joints, parents)
        rich = blend_points(anny_weights, rich_bone_transforms(pose, skin, rest_joints, bound), rest_vertices)
        ours = (merged_weights @ skin.transpose(1, 0, 2, 3).reshape(nj, -1)).reshape(nv, -1, 3, 4)
        ours = ours.transpose(1, 0, 2, 3)
        unposed = np.linalg.solve(ours[..., :3], (rich - ours[..., 3])[..., None])[..., 0]
        feats = (axis_angle_to_matrix(pose)[:, 1:] - np.eye(3)).reshape(pose.shape[0], nf)
        return feats, unposed - rest_vertices

    done = 0
    while done < samples:
        count = min(batch, samples - done)
        feats, res = residuals(sample_pose(rng, count))
        gram += feats.T @ feats
        cross += feats.T @ res.reshape(count, -1)
        done += count

    # Which joints may drive each vertex.
    allowed_by_vertex: dict[tuple[int, ...], list[int]] = {}
    for v in range(nv):
        bones = np.flatnonzero(anny_weights[v] > 0)
        drivers = {int(bound.bone_child[b]) for b in bones if bound.bone_child[b] >= 0}
        if drivers:
            drivers |= {int(bound.bone_joint[b]) for b in bones}
        key = tuple(sorted(d for d in drivers if d > 0))
        if key:
            allowed_by_vertex.setdefault(key, []).append(v)
    pose_dirs = np.zeros((nv, 3, nf))
    scale = np.trace(gram) / nf
    for joints, verts in allowed_by_vertex.items():
        cols = np.concatenate([np.arange(9 * (j - 1), 9 * j) for j in joints])
        a = gram[np.ix_(cols, cols)] + ridge * scale * np.eye(cols.size)
        vcols = (np.asarray(verts)[:, None] * 3 + np.arange(3)).reshape(-1)
        sol = np.linalg.solve(a, cross[np.ix_(cols, vcols)])  # (F_allowed, 3|verts|)
        full = np.zeros((nf, vcols.size))
        full[cols] = sol
        pose_dirs[verts] = full.T.reshape(len(verts), 3, nf)

    # Held-out check, in the posed space.
    test_rng = np.random.default_rng(seed + 1)
    pose = sample_pose(test_rng, held_out)
    feats, res = residuals(pose)
    corr = (feats @ pose_dirs.reshape(nv * 3, nf).T).reshape(held_out, nv, 3)
    skin = skinning_transforms(pose, rest_joints, parents)
    ours = (
        (merged_weights @ skin.transpose(1, 0, 2, 3).reshape(nj, -1))
        .reshape(nv, -1, 3, 4)
        .transpose(1, 0, 2, 3)
    )
    err_without = np.linalg.norm((ours[..., :3] @ res[..., None])[..., 0], axis=-1)
    err_with = np.linalg.norm((ours[..., :3] @ (res - corr)[..., None])[..., 0], axis=-1)
    return CorrectiveFit(
        pose_dirs=pose_dirs,
        rms_without=float(np.sqrt(np.mean(err_without**2))),
        rms_with=float(np.sqrt(np.mean(err_with**2))),
        max_without=float(err_without.max()),
        max_with=float(err_with.max()),
        samples=samples,
    )
