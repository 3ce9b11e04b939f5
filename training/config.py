"""Training settings: one dataclass, a few named presets, and the schedule helpers.

Schedules are written against the run's *progress* p in [0, 1]: p = iteration / iterations, or,
when a time budget is set, the larger of that and elapsed / budget, so a time-limited run still
goes through its whole schedule (densify, then refine, then settle) before the deadline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class TrainConfig:
    # What and where
    data: str = ""
    rig: str = "flame"  # flame | smplx
    model: str = ""
    out: str = ""
    device: str = "cuda"
    backend: str = "auto"  # auto | gsplat | inria | reference
    seed: int = 0
    preset: str = "default"

    # Length
    iterations: int = 30_000
    time_budget: float = 0.0  # seconds of training (0: none); evaluation time is not counted
    # Fewer steps than this (a time budget that ran out) is not an avatar: exit 10, nothing exported.
    # An explicit shorter --iterations is honoured (the least is min(min_iterations, iterations)).
    min_iterations: int = 100

    # Data
    resolution_scale: float = 1.0  # images are resized by this factor once, when cached
    max_image_side: int = 0  # pixels: lower the scale so no image is longer than this (0: no cap)
    batch_cameras: int = 1  # images (cameras of one timestep) per step
    cache_on_device: str = "auto"  # auto | yes | no
    max_cache_gb: float = 8.0
    cuda_graphs: bool = True  # replay posing and loss as CUDA graphs (training/loop/steps.py)

    # Gaussians
    init_gaussians: int = 0  # 0: three per face
    max_gaussians: int = 200_000
    sh_degree: int = 3
    sh_grow_every: float = 0.04  # progress between SH degree steps
    # Dynamic blendshapes (docs/DESIGN.md): rank 0 switches them off (static binding).
    dynamics_rank: int = 8
    dynamics_expressions: int = 50  # E_dyn: the first expression coefficients used as features

    # Learning rates (Adam). Offsets and scales are in face units.
    lr_offset: float = 5e-3
    lr_offset_final: float = 5e-5
    lr_rotation: float = 1e-3
    lr_log_scale: float = 1.7e-2
    lr_opacity: float = 5e-2
    lr_sh_dc: float = 2.5e-3
    lr_sh_rest: float = 1.25e-4
    # Normal shading (docs/DESIGN.md): colour follows each face's world normal, as skin under
    # studio lights does when the head turns. +2.8 dB on unseen frames of the synthetic head.
    normal_shading: bool = True
    lr_shading: float = 2.5e-3
    shading_weight_decay: float = 0.0
    lr_dyn_basis: float = 1e-3
    lr_dyn_mix: float = 1e-3

    # Tracked rig refinement (per timestep, never part of the avatar's identity)
    refine_expression: bool = True
    refine_pose: bool = True
    refine_translation: bool = False
    refine_zero_mean: bool = False  # take the deltas' mean over the frames out (model/tracking.py)
    refine_through_dynamics: bool = False  # let the blendshapes' gradient move the deltas
    lr_refine_expression: float = 3e-4  # 1e-3 drifted: -0.45 dB on unseen expressions (training/README.md)
    lr_refine_pose: float = 1e-5
    lr_refine_translation: float = 1e-6

    # Losses
    lambda_dssim: float = 0.2  # L1 weight is 1 - lambda_dssim
    lambda_mask: float = 0.1
    lambda_offset: float = 1e-2
    offset_threshold: float = 1.0  # face units before the penalty starts
    lambda_scale: float = 1.0
    scale_threshold: float = 0.6  # face units
    lambda_dynamics: float = 1e-2  # mean squared blendshape delta per Gaussian
    dynamics_weight_decay: float = 1e-4

    # Adaptive density control (training/loop/densify.py)
    densify_from: float = 0.02  # progress
    densify_until: float = 0.5
    densify_every: int = 100  # iterations
    grad_threshold: float = 2e-4  # mean screen-space gradient (normalised device units)
    split_scale_threshold: float = 0.6  # face units: above splits, below clones
    prune_opacity: float = 0.005
    prune_scale: float = 3.0  # face units: larger ones are pruned after the first reset
    opacity_reset_every: float = 0.1  # progress between opacity resets (0: never)
    opacity_reset_value: float = 0.01

    # Fidelity options (issue 25), off by default until a side-by-side run keeps them
    # (benchmarks/training/concurrent_ab.py; docs/MEASUREMENTS.md says what each measured).
    antialiased: bool = False  # gsplat's antialiased rasterization (opacity-compensated 2D dilation)
    # Mip-Splatting-style 3D smoothing: every Gaussian is widened by this many of the training
    # cameras' finest pixel footprints at the subject (0: off); exports bake it into the avatar.
    filter_3d: float = 0.0
    densify_strategy: str = "adaptive"  # adaptive (clone/split/prune, densify.py) | mcmc (mcmc.py)
    # Position noise per step: mcmc_noise_lr x the offset learning rate, in units of the Gaussian's own
    # size (training/loop/mcmc.py). 100 moves a near-dead Gaussian ~1/4 of its size a step at first (the
    # paper's 5e5 multiplies a covariance in scene units, not our face-unit sizes).
    mcmc_noise_lr: float = 100.0
    mcmc_growth: float = 0.05  # fraction of Gaussians added per densification step, up to the cap
    mcmc_min_opacity: float = 0.005  # below this a Gaussian is dead and relocated
    lambda_opacity_reg: float = 0.0  # mean opacity (L1): fewer, more decisive Gaussians
    lambda_scale_reg: float = 0.0  # mean world-space scale (L1): no large blurry Gaussians
    lambda_sh_rest: float = 0.0  # mean square of the view-dependent SH coefficients

    # Output
    log_every: int = 50
    preview_every: int = 1000  # iterations (0: never)
    checkpoint_every: int = 5000  # iterations (0: only on stop and at the end)
    eval_every_seconds: float = 0.0  # held-out evaluation during training (benchmarks)
    eval_max_images: int = 32
    export_max_mb: float = 0.0  # compact the avatar to fit this file size (0: no limit)
    compact_steps: int = 1000  # fine-tuning steps after compaction

    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    @property
    def dynamics_enabled(self) -> bool:
        return self.dynamics_rank > 0


# Named presets: overrides of the defaults above. Explicit command-line options win over them.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # A ten-minute budget on one GPU: denser early, several cameras per step.
    "fast": {
        "batch_cameras": 4,
        "densify_every": 100,
        "densify_until": 0.6,
        "opacity_reset_every": 0.15,
        "sh_grow_every": 0.05,
    },
    # Static binding as in GaussianAvatars: no dynamic blendshapes.
    "static": {"dynamics_rank": 0, "normal_shading": False},
    # The CPU (pairs rasterizer), run on a time budget: the settings that scored best on held-out
    # views at the dataset's resolution in 3 minutes (benchmarks/training/cpu_presets.py,
    # docs/MEASUREMENTS.md): 64 px images, 3,000 Gaussians, low SH and dynamics.
    "cpu": {
        "iterations": 100_000,  # the time budget ends it
        "max_image_side": 64,
        "max_gaussians": 3000,
        "densify_every": 5,
        "densify_from": 0.1,
        "densify_until": 0.8,
        "opacity_reset_every": 0,
        "log_every": 5,
        "preview_every": 50,
        "checkpoint_every": 200,
        "sh_grow_every": 0.2,
        "sh_degree": 1,
        "dynamics_rank": 2,
        "dynamics_expressions": 4,
    },
    # Tiny CPU runs (tests, smoke checks with the reference rasterizer).
    "tiny": {
        "iterations": 60,
        "max_gaussians": 4000,
        "densify_every": 5,
        "densify_from": 0.1,
        "densify_until": 0.8,
        "opacity_reset_every": 0,
        "log_every": 5,
        "preview_every": 0,
        "checkpoint_every": 0,
        "sh_grow_every": 0.2,
        "sh_degree": 1,
        "dynamics_rank": 2,
        "dynamics_expressions": 4,
    },
}


def progress(iteration: int, iterations: int, elapsed: float = 0.0, time_budget: float = 0.0) -> float:
    p = iteration / max(1, iterations)
    if time_budget > 0:
        p = max(p, elapsed / time_budget)
    return min(1.0, p)


def exp_decay(start: float, end: float, p: float) -> float:
    """Log-linear interpolation from start (p=0) to end (p=1)."""
    p = min(1.0, max(0.0, p))
    return math.exp(math.log(start) * (1 - p) + math.log(end) * p)


def sh_degree_at(p: float, max_degree: int, every: float) -> int:
    if every <= 0:
        return max_degree
    return min(max_degree, int(p / every))
