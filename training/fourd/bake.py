"""Baking a trained sequence into a ``.gavatar4d`` file (core/avatar/sequence_file.py): the field
evaluated at every frame of the dataset (each distinct time of its images), or at ``bake_fps``
frames per second of the dataset's duration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.avatar.sequence_file import write_sequence
from training import __version__

DEFAULT_FPS = 24.0  # D-NeRF scenes do not say; the built-in dataset is made at 24


@dataclass
class BakedSequence:
    path: Path
    frames: int
    fps: float
    num_gaussians: int

    def figures(self) -> dict[str, float]:
        size = self.path.stat().st_size
        seconds = self.frames / self.fps
        return {
            "sequence_mb": size / 1e6,
            "sequence_frames": self.frames,
            "sequence_fps": self.fps,
            "sequence_mb_per_second": size / 1e6 / seconds,
        }


def frame_times(dataset_times: list[float], dataset_fps: float, bake_fps: float) -> tuple[list[float], float]:
    """The normalised times to bake and their frame rate."""
    if bake_fps <= 0:
        return sorted(dataset_times), dataset_fps
    duration = (len(dataset_times) - 1) / dataset_fps  # seconds from time 0 to time 1
    count = max(2, round(duration * bake_fps) + 1)
    return np.linspace(0.0, 1.0, count).tolist(), bake_fps


@torch.no_grad()
def bake_sequence(trainer: Any, path: Path, metrics: dict[str, Any]) -> BakedSequence:
    cfg = trainer.cfg
    model = trainer.model
    dataset_fps = float(trainer.dataset.fps or DEFAULT_FPS)
    times, fps = frame_times(sorted(set(trainer.times.values())), dataset_fps, cfg.bake_fps)
    per_frame: dict[str, list[np.ndarray]] = {"means": [], "quats": [], "log_scales": [], "opacity": []}
    for t in times:
        world = model.at_time(t, cfg.sh_degree, trainer.deforming(1.0))
        per_frame["means"].append(world.means.float().cpu().numpy())
        per_frame["quats"].append(world.quats.float().cpu().numpy())
        per_frame["log_scales"].append(world.scales.log().float().cpu().numpy())
        p = world.opacities.double().clamp(1e-6, 1 - 1e-6)
        per_frame["opacity"].append(torch.log(p / (1 - p)).float().cpu().numpy())
    sh = model.at_time(0.0, cfg.sh_degree, deform=False).sh.float().cpu().numpy()
    write_sequence(
        path, sh, *(np.stack(per_frame[k]) for k in ("means", "quats", "log_scales", "opacity")),
        fps=fps, times=times,
        extra_header={
            "up_axis": "Y",
            "background": list(trainer.background),
            "trainer": {"name": "gaussian-avatar-trainer", "mode": "4d", "version": __version__,
                        "data": str(Path(cfg.data).resolve()), "iterations": trainer.iteration,
                        "train_time": trainer.train_time, "backend": trainer.backend,
                        "config": cfg.to_dict()},
            "metrics": metrics,
        },
    )  # fmt: skip
    return BakedSequence(path, len(times), fps, model.num_gaussians)
