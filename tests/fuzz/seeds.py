"""Valid inputs for every importer, made by our own writers and test fixtures: the files the
mutations start from. Small, so a case runs in a fraction of a second."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from core.avatar import avatar_file as avatar_file_module
from core.avatar import binding
from core.avatar.gaussians import GaussianSet
from core.avatar.ply import write_ply
from core.motion.arkit import ARKIT_NAMES
from core.rig import lbs, loaders
from tests.core.motion.test_motion_flame_sequence import write_flame_param_folder
from tests.fixtures.dataset import write_dnerf, write_gaussian_avatars, write_imavatar
from tests.fixtures.dynerf import write_dynerf
from tests.fixtures.files import rig_files
from tests.fixtures.files.arkit_files import (
    smooth_weights,
    write_live_link_csv,
    write_mediapipe_json,
    write_plain_csv,
)
from tests.fixtures.hypernerf import write_hypernerf


def amass_clip(folder: Path, index: int) -> Path:
    """An AMASS clip: SMPL-X or SMPL-H layout, one of the frame-rate keys, sometimes expressions."""
    rng = np.random.default_rng(index)
    width = 165 if index % 2 == 0 else 156
    frames = 6 + index % 5
    arrays = {
        "poses": rng.normal(scale=0.3, size=(frames, width)),
        "trans": np.cumsum(rng.normal(scale=0.01, size=(frames, 3)), axis=0),
        "betas": rng.normal(size=10),
        "gender": np.array(["neutral", "female", "male"][index % 3]),
        ["mocap_framerate", "mocap_frame_rate", "fps"][index % 3]: np.array(30.0 + 30 * (index % 2)),
    }
    if index % 4 == 0:
        arrays["expression"] = rng.normal(size=(frames, 10))
    path = folder / f"clip{index}.npz"
    np.savez(path, **arrays)
    return path


def flame_sequence(folder: Path, index: int) -> Path:
    """A flame_param folder (one .npz per frame) or one sequence .npz with a frame axis."""
    if index % 2 == 0:
        return write_flame_param_folder(folder / f"subject{index}", frames=4, seed=index, expr=6)
    rng = np.random.default_rng(index)
    frames = 5
    path = folder / f"seq{index}.npz"
    arrays = {
        "expr": rng.normal(scale=0.3, size=(frames, 6)),
        "jaw_pose": rng.normal(scale=0.1, size=(frames, 3)),
        "rotation": rng.normal(scale=0.1, size=(frames, 3)),
        "translation": rng.normal(scale=0.01, size=(frames, 3)),
        "fps": np.array(25.0),
    }
    if index % 4 == 1:
        arrays["pose"] = rng.normal(scale=0.1, size=(frames, 15))
        del arrays["jaw_pose"], arrays["rotation"]
    np.savez(path, **arrays)
    return path


def arkit_file(folder: Path, index: int) -> Path:
    weights = smooth_weights(8, seed=index)
    kind = index % 3
    if kind == 0:
        rotations = np.zeros((8, 9)) if index % 2 else None
        return write_live_link_csv(folder / f"take{index}.csv", weights, rate=60.0, rotations=rotations)
    if kind == 1:
        return write_mediapipe_json(folder / f"mp{index}.json", weights, fps=30.0)
    names = list(ARKIT_NAMES[:8])
    return write_plain_csv(folder / f"plain{index}.csv", names, weights[:, :8], time=np.arange(8) / 30.0)


def rig_model(folder: Path, index: int) -> tuple[Path, str]:
    """A small model file of one of the official layouts, and its family."""
    sizes = {"num_vertices": 40, "num_faces": 60, "num_shape": 10, "num_expression": 10, "seed": index}
    kind = index % 3
    if kind == 0:
        return rig_files.flame_2023_pickle(folder, name=f"flame{index}.pkl", **sizes), "FLAME"
    if kind == 1:
        return rig_files.smplx_npz(folder, name=f"SMPLX{index}.npz", **sizes), "SMPLX"
    return rig_files.flame_2020_pickle(folder, name=f"generic{index}.pkl", **sizes), "FLAME"


def gaussians(index: int, count: int = 40, degree: int = 1) -> GaussianSet:
    rng = np.random.default_rng(index)
    return GaussianSet(
        means=rng.normal(size=(count, 3)).astype(np.float32),
        quats=rng.normal(size=(count, 4)).astype(np.float32),
        log_scales=rng.normal(-3.0, 0.3, (count, 3)).astype(np.float32),
        opacity_logits=rng.normal(size=count).astype(np.float32),
        sh=rng.normal(0.0, 0.3, (count, (degree + 1) ** 2, 3)).astype(np.float32),
    )


def ply_file(folder: Path, index: int) -> Path:
    path = folder / f"splats{index}.ply"
    write_ply(path, gaussians(index, degree=index % 3))
    return path


def sequence_file(folder: Path, index: int) -> Path:
    """A baked 4D sequence (.gavatar4d): every Gaussian listed, or still, moving and blinking ones;
    a count that is not a multiple of 8 on odd seeds (padding bits in the listing)."""
    from tests.fixtures.sequence import write_moving_sequence

    path = folder / f"sequence{index}.gavatar4d"
    write_moving_sequence(path, count=48 + 3 * (index % 2), frames=4, degree=index % 2, split=index % 3 != 0)
    return path


def dataset_folder(folder: Path, index: int) -> Path:
    """A small dataset of one of the public formats."""
    root = folder / f"dataset{index}"
    kind = index % 3
    if kind == 0:
        write_gaussian_avatars(root, cameras=2, timesteps=2, val_camera=1, test_timesteps=(1,))
    elif kind == 1:
        write_imavatar(root, frames=3)
    else:
        write_dnerf(root, per_split=2)
    return root


def dynerf_folder(folder: Path, index: int) -> Path:
    """A small DyNeRF scene: H.264 videos (even seeds) or a copy decoded as camNN/images (odd)."""
    root = folder / f"dynerf{index}"
    decoded = index % 2 == 1
    write_dynerf(root, cameras=3, frames=3, decoded=decoded, videos=not decoded)
    return root


def hypernerf_folder(folder: Path, index: int) -> Path:
    """A small HyperNeRF capture: "vrig" (two phones), "interp" (held-out times), or one with lens
    distortion, two image scales and no scene.json."""
    root = folder / f"hypernerf{index}"
    kind = index % 3
    write_hypernerf(
        root, frames=3, mode="interp" if kind == 1 else "vrig", scales=(1, 2) if kind == 2 else (2,),
        radial=(0.05, 0.01, 0.0) if kind == 2 else (0.0, 0.0, 0.0), scene=kind != 2,
    )  # fmt: skip
    return root


def flame_model_file(folder: Path) -> tuple[Path, object]:
    path = rig_files.flame_2023_pickle(
        folder, num_vertices=80, num_faces=120, num_shape=6, num_expression=4, seed=4
    )
    return path, loaders.load_model(path, family="FLAME")


def avatar_file(folder: Path, index: int, model: Any, count: int = 30) -> Path:
    """A consistent .gavatar for ``model`` (FLAME), written by our own writer."""
    rng = np.random.default_rng(index)
    betas = rng.normal(0.0, 1.0, model.num_shape)
    static_offset = rng.normal(0.0, 0.002, (model.num_vertices, 3))
    rest = lbs.forward(model, betas=betas, vertex_offsets=static_offset).vertices
    bound = binding.Binding(
        parent_face=rng.integers(0, len(model.faces), count).astype(np.int32),
        offset=rng.normal(0.0, 0.2, (count, 3)).astype(np.float32),
        rotation=rng.normal(size=(count, 4)).astype(np.float32),
        log_scale=rng.normal(-1.5, 0.3, (count, 3)).astype(np.float32),
    )
    posed = binding.bind(binding.face_frames(rest, model.faces), bound)
    appearance = gaussians(index, count, degree=1)
    world = GaussianSet(
        posed.means.astype(np.float32),
        posed.quats.astype(np.float32),
        posed.log_scales.astype(np.float32),
        appearance.opacity_logits,
        appearance.sh,
    )
    num_pose = 9 * (len(model.parents) - 1)
    dynamics = binding.Dynamics(
        rng.normal(0, 0.05, (count, 2, 14)).astype(np.float32),
        rng.normal(0, 1, (2, model.num_expression + num_pose)).astype(np.float32),
        model.num_expression,
        num_pose,
    )
    header = {
        "rig": {
            "family": "FLAME",
            "model_name": model.source_name,
            "model_sha256": model.source_sha256,
            "num_vertices": model.num_vertices,
            "num_faces": len(model.faces),
        },
        "trainer": {"version": "fuzz"},
        "background": [1.0, 1.0, 1.0],
    }
    identity = {"shape": betas, "static_offset": static_offset}
    path = folder / f"person{index}.gavatar"
    avatar_file_module.write_avatar(path, avatar_file_module.Avatar(header, bound, world, identity, dynamics))
    return path


def camera_file(folder: Path, index: int) -> Path:
    """A camera .json as ``python -m training render --cameras`` reads it."""
    rng = np.random.default_rng(index)
    cameras = [
        {
            "K": [[500.0, 0.0, 64.0], [0.0, 500.0, 48.0], [0.0, 0.0, 1.0]],
            "world_to_camera": np.eye(4).tolist(),
            "width": 128,
            "height": 96,
        }
        for _ in range(1 + index % 3)
    ]
    cameras[0]["world_to_camera"][2][3] = float(rng.uniform(1.0, 3.0))
    path = folder / f"cameras{index}.json"
    path.write_text(json.dumps({"cameras": cameras}), encoding="utf-8")
    return path


def params_file(folder: Path, index: int) -> Path:
    """FLAME rig parameters as the datasets store them: a sequence (leading frame axis) or one frame."""
    rng = np.random.default_rng(index)
    frames = 3 if index % 2 == 0 else 1
    arrays = {
        "shape": rng.normal(size=10),
        "expr": rng.normal(scale=0.3, size=(frames, 6)),
        "rotation": rng.normal(scale=0.1, size=(frames, 3)),
        "neck_pose": rng.normal(scale=0.1, size=(frames, 3)),
        "jaw_pose": rng.normal(scale=0.1, size=(frames, 3)),
        "eyes_pose": rng.normal(scale=0.1, size=(frames, 6)),
        "translation": rng.normal(scale=0.01, size=(frames, 3)),
    }
    if frames == 1:
        arrays = {k: (v[0] if k != "shape" else v) for k, v in arrays.items()}
    path = folder / f"params{index}.npz"
    np.savez(path, **arrays)
    return path
