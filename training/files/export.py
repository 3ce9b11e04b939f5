"""Writing the results of a run: the ``.gavatar`` file (through core/avatar/avatar_file.py,
atomically) and the refined tracking (tracking.npz, kept apart from the avatar)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.avatar.atomic import atomic_write
from core.avatar.range_stats import compute_stats
from training import __version__
from training.model.posing import world_gaussians
from training.model.tracking import TrackedSequence


@torch.no_grad()
def avatar_contents(trainer: Any, metrics: dict[str, Any]) -> dict[str, Any]:
    """Everything the avatar file holds, as numpy arrays and plain dicts."""
    gs = trainer.gaussians
    p = gs.params
    rest = trainer.poser.rest_mesh()
    smoothing = trainer.renderer.smoothing
    world = world_gaussians(gs, rest, trainer.poser.faces, None, gs.max_sh_degree, smoothing)
    f32 = lambda t: t.detach().float().cpu().numpy()  # noqa: E731
    model = trainer.rig_model
    cfg = trainer.cfg
    local_log_scale, opacity_logit = p["log_scale"], p["opacity"]
    if smoothing > 0:
        local_log_scale, opacity_logit = baked_filter(trainer, rest, world)
    contents: dict[str, Any] = {
        "means": f32(world.means),
        "quats": f32(world.quats),
        "log_scales": f32(torch.log(world.scales)),
        "opacity_logits": f32(opacity_logit),
        "sh": f32(world.sh),  # f_dc = dc' + S n_rest with normal shading (docs/DESIGN.md)
        "parent_face": gs.parent_face.cpu().numpy().astype(np.int32),
        "offset": f32(p["offset"]),
        "rotation": f32(p["rotation"]),
        "log_scale": f32(local_log_scale),
        "identity": {k: np.asarray(v, dtype=np.float32) for k, v in trainer.identity.items()},
        "rig": {
            "family": model.family,
            "model_name": model.source_name or Path(cfg.model).name,
            "model_sha256": model.source_sha256,
            "num_vertices": model.num_vertices,
            "num_faces": int(model.faces.shape[0]),
        },
        "trainer": {
            "name": "gaussian-avatar-trainer",
            "version": __version__,
            "model_path": str(Path(cfg.model).resolve()),
            "data": str(Path(cfg.data).resolve()),
            "iterations": trainer.iteration,
            "train_time": trainer.train_time,
            "backend": trainer.backend,
            "config": cfg.to_dict(),
        },
        "metrics": metrics,
        "background": list(trainer.background),
        # How to rasterize it (read by `training eval/render`); the 3D filter is already baked in.
        "rasterization": {"antialiased": bool(cfg.antialiased), "filter_3d_std": smoothing},
        # The training range of the driving values, for the add-on's range guard.
        "range_statistics": training_range(trainer.tracking.refined_arrays()),
    }
    if gs.has_dynamics:
        contents["dynamics"] = {
            "basis": f32(p["dyn_basis"]),
            "mix": f32(p["dyn_mix"]),
            "num_expression": trainer.num_dyn_expression,
            "num_pose_features": trainer.poser.num_pose_features,
        }
    if "shading" in p:
        from training.twins.binding import face_frames

        rest_normal = face_frames(rest, trainer.poser.faces).rotations[gs.parent_face, :, 2]
        contents["shading"] = {"matrix": f32(p["shading"]), "rest_normal": f32(rest_normal)}
    return contents


def baked_filter(trainer: Any, rest: torch.Tensor, world: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The binding's face-local log scales and opacity logits with the 3D filter folded in,
    measured on the rest mesh: a player that knows nothing of the filter renders what training saw
    (exactly at rest; posed faces stretch the filter with them, by a few percent)."""
    from training.twins.binding import FRAME_EPS, face_frames

    face_size = face_frames(rest, trainer.poser.faces).sizes[trainer.gaussians.parent_face]
    local = torch.log(world.scales) - torch.log(face_size.clamp_min(FRAME_EPS))[:, None]
    return local, torch.logit(world.opacities.clamp(1e-6, 1 - 1e-6))


def training_range(tracking: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per-coefficient statistics of the training frames' refined expression and pose."""
    return compute_stats(tracking["expression"], tracking["pose"]).to_header()


def write_avatar(path: Path, trainer: Any, metrics: dict[str, Any]) -> Path:
    from core.avatar.avatar_file import write_avatar_file

    write_avatar_file(path, **avatar_contents(trainer, metrics))
    return path


def write_tracking(path: Path, tracking: TrackedSequence) -> Path:
    """The refined per-timestep rig inputs (expression, pose (T,J,3), transl), atomically."""
    arrays = tracking.refined_arrays()
    with atomic_write(path) as handle:  # also clears what a killed run left in the folder
        np.savez(handle, **arrays)
    return path
