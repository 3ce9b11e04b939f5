"""Baking a trained sequence into a ``.gavatar4d`` file (core/avatar/sequence_file.py): the field
evaluated at every frame of the dataset (each distinct time of its images), or at ``bake_fps``
frames per second of the dataset's duration. A Gaussian whose motion no pixel would show is stored
once, any other only at the frames where it is visible (core/avatar/sequence_split.py: no pixel's
alpha changes by more than ``bake_tolerance`` per Gaussian)."""

from __future__ import annotations

import tempfile
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


IN_MEMORY_LIMIT = 1 << 30  # bytes of (T, G) frames held in RAM; larger bakes go to scratch files


def _frame_array(shape: tuple[int, ...], scratch: Path | None, name: str) -> np.ndarray:
    if scratch is None:
        return np.empty(shape, np.float32)
    return np.lib.format.open_memmap(scratch / f"{name}.npy", mode="w+", dtype=np.float32, shape=shape)


@torch.no_grad()
def field_frames(
    model: Any,
    times: list[float],
    fps: float,
    sh_degree: int,
    deform: bool = True,
    scratch: Path | None = None,
) -> FieldFrames:
    """A SequenceModel (training/fourd/model.py) evaluated at ``times``, written frame by frame
    into arrays in RAM or, with ``scratch`` (a folder), memory-mapped files there: a long sequence
    of many Gaussians need not fit in memory."""
    t, g = len(times), model.num_gaussians
    means = _frame_array((t, g, 3), scratch, "means")
    quats = _frame_array((t, g, 4), scratch, "quats")
    log_scales = _frame_array((t, g, 3), scratch, "log_scales")
    opacity = _frame_array((t, g), scratch, "opacity")
    for k, time in enumerate(times):
        world = model.at_time(time, sh_degree, deform)
        means[k] = world.means.float().cpu().numpy()
        quats[k] = world.quats.float().cpu().numpy()
        log_scales[k] = world.scales.log().float().cpu().numpy()
        p = world.opacities.double().clamp(1e-6, 1 - 1e-6)
        opacity[k] = torch.log(p / (1 - p)).float().cpu().numpy()
    sh = model.at_time(0.0, sh_degree, deform=False).sh.float().cpu().numpy()
    return FieldFrames(list(times), fps, means, quats, log_scales, opacity, sh)


def frame_bytes(frames: int, gaussians: int) -> int:
    """RAM the (T, G) float32 frames take: means, rotations, log-scales, opacity."""
    return frames * gaussians * (3 + 4 + 3 + 1) * 4


def trainer_times(trainer: Any) -> tuple[list[float], float]:
    """The normalised times a trained sequence bakes at, and their frame rate."""
    dataset_fps = float(trainer.dataset.fps or DEFAULT_FPS)
    return frame_times(sorted(set(trainer.times.values())), dataset_fps, trainer.cfg.bake_fps)


def trainer_frames(trainer: Any, scratch: Path | None = None) -> FieldFrames:
    """The trained sequence at the times to bake."""
    times, fps = trainer_times(trainer)
    degree, deform = trainer.cfg.sh_degree, trainer.deforming(1.0)
    return field_frames(trainer.model, times, fps, degree, deform, scratch=scratch)


def bake_sequence(trainer: Any, path: Path, metrics: dict[str, Any]) -> BakedSequence:
    """Bake to ``path``; frames larger than IN_MEMORY_LIMIT go through scratch files beside it,
    removed afterwards."""
    count = len(trainer_times(trainer)[0])
    if frame_bytes(count, trainer.model.num_gaussians) <= IN_MEMORY_LIMIT:
        return _bake(trainer, path, metrics, None)
    with tempfile.TemporaryDirectory(prefix=".bake-", dir=path.parent, ignore_cleanup_errors=True) as scratch:
        return _bake(trainer, path, metrics, Path(scratch))


def _bake(trainer: Any, path: Path, metrics: dict[str, Any], scratch: Path | None) -> BakedSequence:
    cfg = trainer.cfg
    frames = trainer_frames(trainer, scratch)
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
    still, listed = float(split.still.mean()), split.listed_fraction
    count, fps = len(frames.times), frames.fps
    del frames, split  # closes the scratch maps before their folder goes
    return BakedSequence(path, count, fps, trainer.model.num_gaussians, still, listed)
