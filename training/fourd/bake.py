"""Baking a trained sequence into a ``.gavatar4d`` file (core/avatar/sequence_file.py): the field
evaluated at every frame of the dataset (each distinct time of its images), or at ``bake_fps``
frames per second of the dataset's duration. A Gaussian whose motion no pixel would show is stored
once, any other only at the frames where it is visible (core/avatar/sequence_split.py: no pixel's
alpha changes by more than ``bake_tolerance`` per Gaussian)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.avatar.sequence_split import SequenceSplit, split_sequence
from core.avatar.sequence_writer import write_sequence
from training import __version__

DEFAULT_FPS = 24.0  # D-NeRF scenes do not say; the built-in dataset is made at 24


@dataclass
class BakedSequence:
    path: Path
    frames: int
    fps: float
    num_gaussians: int
    still_fraction: float = 0.0
    listed_fraction: float = 1.0

    def figures(self) -> dict[str, float]:
        size = self.path.stat().st_size
        seconds = self.frames / self.fps
        return {
            "sequence_mb": size / 1e6,
            "sequence_frames": self.frames,
            "sequence_fps": self.fps,
            "sequence_mb_per_second": size / 1e6 / seconds,
            "sequence_still_fraction": self.still_fraction,  # of the Gaussians: stored once
            "sequence_listed_fraction": self.listed_fraction,  # of Gaussian-frames: stored per frame
        }


def frame_times(dataset_times: list[float], dataset_fps: float, bake_fps: float) -> tuple[list[float], float]:
    """The normalised times to bake and their frame rate."""
    if bake_fps <= 0:
        return sorted(dataset_times), dataset_fps
    duration = (len(dataset_times) - 1) / dataset_fps  # seconds from time 0 to time 1
    count = max(2, round(duration * bake_fps) + 1)
    return np.linspace(0.0, 1.0, count).tolist(), bake_fps


@dataclass
class FieldFrames:
    """The field at every baked time: (T, G, ...) float32 arrays and the colours (G, K, 3)."""

    times: list[float]
    fps: float
    means: np.ndarray
    quats: np.ndarray
    log_scales: np.ndarray
    opacity_logits: np.ndarray
    sh: np.ndarray

    def split(self, tolerance: float) -> SequenceSplit:
        return split_sequence(self.means, self.quats, self.log_scales, self.opacity_logits, tolerance)


@torch.no_grad()
def field_frames(
    model: Any, times: list[float], fps: float, sh_degree: int, deform: bool = True
) -> FieldFrames:
    """A SequenceModel (training/fourd/model.py) evaluated at ``times``."""
    per_frame: dict[str, list[np.ndarray]] = {"means": [], "quats": [], "log_scales": [], "opacity": []}
    for t in times:
        world = model.at_time(t, sh_degree, deform)
        per_frame["means"].append(world.means.float().cpu().numpy())
        per_frame["quats"].append(world.quats.float().cpu().numpy())
        per_frame["log_scales"].append(world.scales.log().float().cpu().numpy())
        p = world.opacities.double().clamp(1e-6, 1 - 1e-6)
        per_frame["opacity"].append(torch.log(p / (1 - p)).float().cpu().numpy())
    sh = model.at_time(0.0, sh_degree, deform=False).sh.float().cpu().numpy()
    means, quats, log_scales, opacity = (np.stack(per_frame[k]) for k in per_frame)
    return FieldFrames(list(times), fps, means, quats, log_scales, opacity, sh)


def trainer_frames(trainer: Any) -> FieldFrames:
    """The trained sequence at the times to bake."""
    cfg = trainer.cfg
    dataset_fps = float(trainer.dataset.fps or DEFAULT_FPS)
    times, fps = frame_times(sorted(set(trainer.times.values())), dataset_fps, cfg.bake_fps)
    return field_frames(trainer.model, times, fps, cfg.sh_degree, trainer.deforming(1.0))


def bake_sequence(trainer: Any, path: Path, metrics: dict[str, Any]) -> BakedSequence:
    cfg = trainer.cfg
    frames = trainer_frames(trainer)
    split = frames.split(cfg.bake_tolerance)
    write_sequence(
        path, frames.sh, frames.means, frames.quats, frames.log_scales, frames.opacity_logits,
        fps=frames.fps, times=frames.times, listed=split.listed,
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
    still = float(split.still.mean())
    return BakedSequence(path, len(frames.times), frames.fps, trainer.model.num_gaussians, still,
                         split.listed_fraction)  # fmt: skip
