"""GaussianAvatars-layout result folders for the tests, made from our own code's pieces (no code or
data of theirs): a FLAME-format model file from a RigModel, world Gaussians on its rest mesh, and the
same Gaussians stored local to their triangles by the convention the GaussianAvatars paper
describes (written here per triangle with plain numpy, independently of engine/interop)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.avatar.binding import Binding, face_frames, unbind
from engine.avatar.gaussians import GaussianSet
from engine.avatar.ply import write_ply
from engine.avatar.quaternion import quat_conjugate, quat_multiply, quat_normalize
from engine.rig import lbs
from engine.rig.model import RigModel
from engine.rotations import matrix_to_quaternion
from tests import rig_files

TEETH_VERTICES, TEETH_FACES = 120, 168


def write_flame_model(folder: Path, model: RigModel, name: str = "flame2023.pkl") -> Path:
    """The model as a FLAME 2023 pickle: shapedirs padded to 300 shape + 100 expression."""
    nv = model.num_vertices
    shapedirs = np.zeros((nv, 3, 400))
    shapedirs[:, :, : model.num_shape] = model.shape_dirs
    shapedirs[:, :, 300 : 300 + model.num_expression] = model.expr_dirs
    kintree = np.array([[2**32 - 1, *model.parents[1:]], list(range(model.num_joints))], dtype=np.int64)
    arrays = {
        "v_template": model.v_template,
        "f": model.faces.astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": model.pose_dirs,
        "J_regressor": model.joint_regressor,
        "weights": model.weights,
        "kintree_table": kintree,
    }
    return rig_files.write_pickle(folder / name, arrays, sparse_keys=("J_regressor",))


def ga_frames_loop(vertices: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """GaussianAvatars' frame of one triangle: origin, rotation (columns), scale."""
    v0, v1, v2 = (np.asarray(vertices[i], np.float64) for i in face)
    e1, e2 = v1 - v0, v2 - v0
    edge = e1 / np.linalg.norm(e1)
    normal = np.cross(e1, e2) / np.linalg.norm(np.cross(e1, e2))
    third = np.cross(normal, edge)
    third /= np.linalg.norm(third)
    rotation = np.stack([edge, normal, -third], axis=1)
    height = np.linalg.norm(np.cross(e1, e2)) / np.linalg.norm(e1)
    return (v0 + v1 + v2) / 3.0, rotation, 0.5 * (np.linalg.norm(e1) + height)


def ga_place(vertices: np.ndarray, faces: np.ndarray, pf: np.ndarray, local: GaussianSet) -> GaussianSet:
    """Their forward, one Gaussian at a time."""
    means, quats, logs = [], [], []
    for g, f in enumerate(pf):
        o, r, k = ga_frames_loop(vertices, faces[f])
        means.append(r @ local.means[g] * k + o)
        quats.append(
            quat_multiply(matrix_to_quaternion(r), quat_normalize(local.quats[g].astype(np.float64)))
        )
        logs.append(local.log_scales[g] + np.log(k))
    return GaussianSet(np.array(means), np.array(quats), np.array(logs), local.opacity_logits, local.sh)


def ga_localize(vertices: np.ndarray, faces: np.ndarray, pf: np.ndarray, world: GaussianSet) -> GaussianSet:
    """Their inverse: world Gaussians stored local to their triangles."""
    means, quats, logs = [], [], []
    for g, f in enumerate(pf):
        o, r, k = ga_frames_loop(vertices, faces[f])
        means.append(r.T @ (world.means[g] - o) / k)
        quats.append(quat_multiply(quat_conjugate(matrix_to_quaternion(r)), quat_normalize(world.quats[g])))
        logs.append(world.log_scales[g] - np.log(k))
    return GaussianSet(np.array(means), np.array(quats), np.array(logs), world.opacity_logits, world.sh)


@dataclass
class GaFolder:
    folder: Path
    params: dict[str, np.ndarray]
    parent_face: np.ndarray  # (G,) as in the file, teeth included
    world: GaussianSet  # rest-pose world Gaussians of the faces the model has
    binding: Binding  # the same Gaussians in our binding (on the rest mesh), teeth left out
    local: GaussianSet  # as stored in the file
    rest: np.ndarray  # the rest mesh


def frame_vertices(model: RigModel, params: dict[str, np.ndarray], t: int) -> np.ndarray:
    """Their FLAME mesh (without teeth) at frame t: shape, static offsets, expression, pose, translation."""
    pose = np.concatenate(
        [params["rotation"][t], params["neck_pose"][t], params["jaw_pose"][t], params["eyes_pose"][t]]
    )
    return lbs.forward(
        model,
        betas=params["shape"][: model.num_shape],
        expression=params["expr"][t, : model.num_expression],
        pose=pose,
        transl=params["translation"][t],
        vertex_offsets=params["static_offset"][0, : model.num_vertices],
    ).vertices


def make_params(model: RigModel, frames: int, seed: int, teeth: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = model.num_vertices + (TEETH_VERTICES if teeth else 0)
    shape = np.zeros(300)
    shape[: model.num_shape] = rng.normal(0.0, 1.0, model.num_shape)
    expr = np.zeros((frames, 100))
    expr[:, : model.num_expression] = rng.normal(0.0, 1.0, (frames, model.num_expression))
    return {
        "shape": shape.astype(np.float32),
        "expr": expr.astype(np.float32),
        "rotation": rng.normal(0.0, 0.2, (frames, 3)).astype(np.float32),
        "neck_pose": rng.normal(0.0, 0.15, (frames, 3)).astype(np.float32),
        "jaw_pose": np.abs(rng.normal(0.0, 0.15, (frames, 3))).astype(np.float32),
        "eyes_pose": rng.normal(0.0, 0.1, (frames, 6)).astype(np.float32),
        "translation": rng.normal(0.0, 0.02, (frames, 3)).astype(np.float32),
        "static_offset": rng.normal(0.0, 0.002, (1, rows, 3)).astype(np.float32),
        "dynamic_offset": np.zeros((frames, rows, 3), dtype=np.float32),
    }


def write_ga_folder(
    folder: Path, model: RigModel, *, count: int = 300, teeth_count: int = 12, frames: int = 4, seed: int = 0
) -> GaFolder:
    """A result folder: ``count`` Gaussians on the model's faces (+ ``teeth_count`` on teeth faces)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    params = make_params(model, frames, seed, teeth=True)
    nf = len(model.faces)
    rest = lbs.forward(
        model,
        betas=params["shape"][: model.num_shape],
        vertex_offsets=params["static_offset"][0, : model.num_vertices],
    ).vertices
    pf = rng.integers(0, nf, count)
    frames_ours = face_frames(rest, model.faces)
    k = frames_ours.sizes[pf]
    # World Gaussians near their faces (offsets up to about a face size).
    offsets = rng.normal(0.0, 0.3, (count, 3))
    means = frames_ours.origins[pf] + np.einsum("gij,gj->gi", frames_ours.rotations[pf], offsets) * k[:, None]
    world = GaussianSet(
        means=means,
        quats=quat_normalize(rng.normal(size=(count, 4))),
        log_scales=np.log(k)[:, None] + rng.normal(-1.2, 0.3, (count, 3)),
        opacity_logits=rng.normal(1.0, 1.0, count),
        sh=rng.normal(0.0, 0.4, (count, 16, 3)),
    )
    local = ga_localize(rest, model.faces, pf, world)
    binding = unbind(frames_ours, pf, world.means, world.quats, world.log_scales)
    # Teeth Gaussians: bound past the model's faces, local values anything plausible.
    teeth_pf = rng.integers(nf, nf + TEETH_FACES, teeth_count)
    teeth = GaussianSet(
        means=rng.normal(0, 0.3, (teeth_count, 3)), quats=rng.normal(size=(teeth_count, 4)),
        log_scales=rng.normal(-1, 0.3, (teeth_count, 3)), opacity_logits=rng.normal(size=teeth_count),
        sh=rng.normal(0, 0.4, (teeth_count, 16, 3)),
    )  # fmt: skip
    # Teeth in the middle of the file, as their densification leaves them.
    half = count // 2
    stored = GaussianSet(*(np.concatenate([a[:half], b, a[half:]]) for a, b in zip(
        local.fields().values(), teeth.fields().values(), strict=True)))  # fmt: skip
    stored_pf = np.concatenate([pf[:half], teeth_pf, pf[half:]])
    write_ply(
        folder / "point_cloud.ply",
        stored.astype(np.float32),
        extras={"binding_0": stored_pf.astype(np.float32)},
    )
    np.savez(folder / "flame_param.npz", **params)
    return GaFolder(folder, params, stored_pf, world, binding, local, rest)
