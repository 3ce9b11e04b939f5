"""Settings of a 4D run (``fit --rig none``): one dataclass and its presets, beside TrainConfig
(training/config.py), whose schedule helpers they share."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class FourDConfig:
    data: str = ""
    out: str = ""
    device: str = "cuda"
    backend: str = "auto"
    seed: int = 0
    preset: str = "default"

    iterations: int = 14_000
    time_budget: float = 0.0  # seconds of training (0: none)
    resolution_scale: float = 1.0
    batch_cameras: int = 2  # views of one time per step
    cache_on_device: str = "auto"
    max_cache_gb: float = 8.0

    # Canonical Gaussians
    init_gaussians: int = 20_000  # drawn inside the union of the per-time visual hulls
    max_gaussians: int = 60_000
    sh_degree: int = 1
    sh_grow_every: float = 0.1
    # Deformation field (training/fourd/field.py)
    plane_resolution: int = 32  # finest spatial grid of the planes (the coarser one is half)
    time_resolution: int = 0  # grid cells along time (0: one per training frame, at most 64)
    plane_features: int = 16
    hidden: int = 64
    opacity_head: bool = True  # the field also changes opacity (things that appear or vanish)
    # Each Gaussian's opacity is also a learnt bump in time, centred at the time its hull point was
    # carved at: large motions (an object crossing the scene) start right at every time.
    temporal_opacity: bool = True
    time_width: float = 1.0  # initial bump width, in frame intervals
    min_time_width: float = 0.0  # narrowest bump width, in frame intervals
    time_power: float = 2.0  # the bump is exp(-|d / width|^power / 2): 2 a Gaussian, more a flatter top
    # Each side of a bump is at least this times the gap to the neighbouring training time, so a
    # Gaussian keeps exp(-1/2) of its opacity half-way between training times (held-out times).
    # 0.5: +0.6 dB held-out time at 3,200 iterations, +1.3 / +1.8 dB at 8,000 (two seeds each),
    # held-out view within 0.2 dB (CPU, toys4d at 64 px with 10 cameras; docs/MEASUREMENTS.md, session 32).
    gap_width: float = 0.5
    lr_time_centre: float = 1e-3
    lr_time_width: float = 1e-2
    # Each Gaussian's own linear motion about its time centre (training/fourd/model.py).
    lr_velocity: float = 5e-3  # times the scene extent per unit of normalised time, decayed to 1/10
    lr_spin: float = 1e-2
    # Velocities corrected by matching each time's Gaussians to the neighbouring times' ones
    # (training/fourd/motion.py) every ``match_every`` of progress up to ``match_until`` (0: never).
    match_every: float = 0.1
    match_until: float = 0.5
    match_radius: float = 0.15  # times the scene extent: how far the first matching round looks
    match_colour: float = 0.2  # times the scene extent per unit of colour difference
    match_spin: bool = True  # also turn each Gaussian with its neighbourhood's rotation
    # Matched displacements up to this many sampling gaps of the targets count as none
    # (training/fourd/motion.py _shrink): two samplings of a still surface match with a jitter that
    # would set it flying. 1.0: +1.3 dB held-out view on a scene with a still backdrop, -0.2 dB on
    # toys4d_small where everything moves (CPU, one seed; docs/MEASUREMENTS.md, session 30).
    match_still: float = 1.0
    frame_code: int = 0  # per-frame conditioning code length (0: none)
    # Progress trained with the field off (a canonical fit of all times). 0 by default: on the
    # toy scene (GPU run of session fourd, docs/MEASUREMENTS.md) a 5 % warm-up made the orbiting
    # cube's Gaussians transparent (each spot is covered at few times) and they were pruned.
    static_warmup: float = 0.0

    lr_means: float = 1.6e-4  # times the scene extent, decayed to 1/100
    lr_quats: float = 1e-3
    lr_log_scales: float = 5e-3
    lr_opacity: float = 5e-2
    lr_sh_dc: float = 2.5e-3
    lr_sh_rest: float = 1.25e-4
    lr_planes: float = 1.6e-3  # decayed to 1/10
    lr_heads: float = 1.6e-4
    lr_codes: float = 1e-3
    lambda_dssim: float = 0.2
    lambda_mask: float = 0.1
    lambda_smooth: float = 1e-3  # total variation of the planes along time (smooth motion)

    densify_from: float = 0.05
    densify_until: float = 0.6
    densify_every: int = 100
    grad_threshold: float = 2e-4
    split_scale: float = 0.01  # times the scene extent: larger ones split, smaller ones clone
    prune_opacity: float = 0.005
    opacity_reset_every: float = 0.2  # progress (0: never)

    log_every: int = 50
    preview_every: int = 1000
    checkpoint_every: int = 5000
    eval_every_seconds: float = 0.0
    eval_max_images: int = 64
    bake_fps: float = 0.0  # frames per second of the baked sequence (0: the dataset's frames)
    # The largest change of a pixel's alpha one Gaussian may make when the baked file holds it still
    # or hides it while nearly transparent (core/avatar/sequence_split.py); 0: every Gaussian at
    # every frame. 0.01 keeps the baked renders above 50 dB of the field's on the CPU runs
    # (docs/MEASUREMENTS.md, "4D sequence size").
    bake_tolerance: float = 0.01
    # >= 0: a static reconstruction of this one timestep (no field; its views only): the per-frame
    # baseline the benchmark compares with (benchmarks/fourd/sequence.py).
    only_timestep: int = -1

    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FourDConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "fast": {"iterations": 7000, "batch_cameras": 4},
    # A few minutes on two CPU cores (the pairs rasterizer) at 64 px.
    "cpu": {
        "iterations": 800,
        "batch_cameras": 1,
        "init_gaussians": 2000,
        "max_gaussians": 5000,
        "plane_resolution": 16,
        "plane_features": 8,
        "hidden": 32,
        "densify_every": 50,
        "log_every": 25,
        "preview_every": 0,
        "checkpoint_every": 0,
        "eval_max_images": 24,
    },
    # Tests: seconds.
    "tiny": {
        "iterations": 30,
        "init_gaussians": 300,
        "max_gaussians": 600,
        "plane_resolution": 8,
        "plane_features": 4,
        "hidden": 16,
        "densify_every": 5,
        "densify_from": 0.1,
        "densify_until": 0.8,
        "static_warmup": 0.0,
        "opacity_reset_every": 0,
        "sh_degree": 0,
        "log_every": 5,
        "preview_every": 0,
        "checkpoint_every": 0,
        "eval_max_images": 4,
        "batch_cameras": 1,
    },
}


# fit's DyNeRF frame choice (--frame-stride, --max-frames, --video-downscale; kept in the config's
# extra) with the reader's defaults (core/datasets/options.py ReadOptions): an option left out
# picks the same frames as its default.
VIDEO_CHOICES: dict[str, int] = {"frame_stride": 1, "max_frames": 0, "video_downscale": 0}


def video_choice(extra: dict[str, Any]) -> dict[str, Any]:
    return {name: extra.get(name, default) for name, default in VIDEO_CHOICES.items()}
