"""What a user chooses for a training, the presets, and the trainer command line they make.

The add-on's presets (Quick preview / Standard / Best) are combinations of the trainer's own
presets (training/config.py: default, fast, static, tiny; for 4D sequences, rig NONE,
training/fourd/config.py: default, fast, cpu, tiny) and its length, resolution and cap options;
explicit values always win over the preset's.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

RIG_FAMILIES = ("FLAME", "SMPLX")
SEQUENCE = "NONE"  # no rig: a 4D sequence (``fit --rig none``) from a dataset with a time per image
RIGS = (*RIG_FAMILIES, SEQUENCE)
DEVICES = ("cuda", "cpu")


@dataclass(frozen=True)
class PresetValues:
    label: str
    description: str
    trainer_preset: str  # training/config.py PRESETS key
    iterations: int  # 0: the trainer preset's
    time_budget: float  # seconds of training, 0: none
    resolution_scale: float
    max_gaussians: int
    preview_every: int  # iterations between preview images
    checkpoint_every: int


# GPU presets. A time budget makes the trainer compress its whole schedule into it.
PRESETS: dict[str, PresetValues] = {
    "QUICK": PresetValues(
        "Quick Preview", "About 3 minutes on a GPU, half resolution: check the data and framing",
        "fast", 0, 180.0, 0.5, 30_000, 200, 2000,
    ),
    "STANDARD": PresetValues(
        "Standard", "About 15 minutes on a GPU at full resolution: a usable avatar",
        "fast", 0, 900.0, 1.0, 100_000, 500, 2000,
    ),
    "BEST": PresetValues(
        "Best", "30,000 iterations at full resolution (about an hour on a GPU)",
        "default", 30_000, 0.0, 1.0, 200_000, 1000, 5000,
    ),
}  # fmt: skip

# On the CPU the pure-torch (pairs) rasterizer trains a few steps a second at best, so the CPU
# presets are time budgets with the settings that scored best at the dataset's resolution in that
# time (benchmarks/training/cpu_presets.py; docs/MEASUREMENTS.md): a rough avatar, never a finished one.
CPU_PRESETS: dict[str, PresetValues] = {
    "QUICK": PresetValues(
        "Quick Preview", "About 5 minutes on the CPU at 64 px: a rough look at the data and framing",
        "cpu", 0, 300.0, 1.0, 3_000, 50, 200,
    ),
    "STANDARD": PresetValues(
        "Standard", "About 15 minutes on the CPU at 64 px: the best rough avatar a CPU makes here",
        "cpu", 0, 900.0, 1.0, 3_000, 100, 500,
    ),
    "BEST": PresetValues(
        "Best", "About 45 minutes on the CPU at 64 px", "cpu", 0, 2700.0, 1.0, 3_000, 200, 1000,
    ),
}  # fmt: skip
CPU_RETRY_PRESET = "STANDARD"  # "Retry on CPU" after a failed GPU start
# What a CPU run gives, said beside the CPU choice (figures: docs/MEASUREMENTS.md).
CPU_EXPECTATION = (
    "A CPU makes a rough 64 px avatar to check the data (about 18 dB); a GPU makes a real one (27-36 dB)"
)

# 4D sequences (rig NONE). The same lengths; the 4D trainer's presets, its Gaussian caps (a
# sequence holds one set of Gaussians plus the field: 60,000 is its default cap), no preview by
# default on the CPU (its cpu preset has none).
SEQUENCE_PRESETS: dict[str, PresetValues] = {
    "QUICK": PresetValues(
        "Quick Preview", "About 3 minutes on a GPU, half resolution: check the data and the motion",
        "fast", 0, 180.0, 0.5, 30_000, 200, 2000,
    ),
    "STANDARD": PresetValues(
        "Standard", "About 15 minutes on a GPU at full resolution: a usable sequence",
        "default", 0, 900.0, 1.0, 60_000, 500, 2000,
    ),
    "BEST": PresetValues(
        "Best", "14,000 iterations at full resolution (the 4D trainer's full schedule)",
        "default", 14_000, 0.0, 1.0, 100_000, 1000, 5000,
    ),
}  # fmt: skip
SEQUENCE_CPU_PRESETS: dict[str, PresetValues] = {
    "QUICK": PresetValues(
        "Quick Preview", "About 5 minutes on the CPU: a rough look at the data and the motion",
        "cpu", 0, 300.0, 1.0, 5_000, 0, 200,
    ),
    "STANDARD": PresetValues(
        "Standard", "About 15 minutes on the CPU: a rough sequence", "cpu", 0, 900.0, 1.0, 5_000, 0, 500,
    ),
    "BEST": PresetValues(
        "Best", "About 45 minutes on the CPU", "cpu", 0, 2700.0, 1.0, 5_000, 0, 1000,
    ),
}  # fmt: skip

PRESET_ORDER = ("QUICK", "STANDARD", "BEST", "CUSTOM")


def preset_values(preset: str, device: str, rig: str = "FLAME") -> PresetValues:
    if rig == SEQUENCE:
        table = SEQUENCE_CPU_PRESETS if device == "cpu" else SEQUENCE_PRESETS
    else:
        table = CPU_PRESETS if device == "cpu" else PRESETS
    return table.get(preset, table["STANDARD"])


@dataclass(frozen=True)
class TrainSettings:
    """One training, as the user set it up. Zero means 'the trainer preset decides'."""

    data_dir: str
    rig: str  # FLAME | SMPLX | NONE (a 4D sequence: no model file)
    model_path: str
    output_dir: str
    device: str = "cuda"
    preset: str = "STANDARD"  # QUICK | STANDARD | BEST | CUSTOM
    trainer_preset: str = "fast"
    iterations: int = 0
    time_budget: float = 0.0
    resolution_scale: float = 1.0
    max_gaussians: int = 0
    preview_every: int = 0
    checkpoint_every: int = 0
    # DyNeRF multi-view videos (rig NONE): every n-th frame, at most this many (0: the trainer's)
    frame_stride: int = 0
    max_frames: int = 0
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_preset(
        cls,
        preset: str,
        *,
        data_dir: str,
        rig: str,
        model_path: str,
        output_dir: str,
        device: str,
        overrides: Mapping[str, object] | None = None,
    ) -> TrainSettings:
        """Settings of a preset (CUSTOM starts from Standard), then the explicit overrides."""
        values = preset_values(preset, device, rig)
        base = cls(
            data_dir=data_dir,
            rig=rig,
            model_path=model_path,
            output_dir=output_dir,
            device=device,
            preset=preset,
            trainer_preset=values.trainer_preset,
            iterations=values.iterations,
            time_budget=values.time_budget,
            resolution_scale=values.resolution_scale,
            max_gaussians=values.max_gaussians,
            preview_every=values.preview_every,
            checkpoint_every=values.checkpoint_every,
        )
        return replace(base, **dict(overrides or {}))  # type: ignore[arg-type]

    def problems(self) -> list[str]:
        out = []
        if self.rig not in RIGS:
            out.append(f"Rig must be FLAME, SMPLX or NONE (a 4D sequence), not {self.rig!r}.")
        if self.rig != SEQUENCE and (self.frame_stride or self.max_frames):
            out.append("Frame stride and max frames apply to 4D sequences (rig NONE) only.")
        if self.frame_stride < 0 or self.max_frames < 0:
            out.append("Frame stride and max frames cannot be negative.")
        if self.device not in DEVICES:
            out.append(f"Device must be cuda or cpu, not {self.device!r}.")
        if self.iterations < 0 or self.time_budget < 0 or self.max_gaussians < 0:
            out.append("Iterations, time budget and Gaussian cap cannot be negative.")
        if not 0 < self.resolution_scale <= 4:
            out.append("Resolution scale must be above 0 and at most 4.")
        if not self.data_dir:
            out.append("No dataset folder is given.")
        if not self.output_dir:
            out.append("No output folder is given.")
        return out


def parse_extra_args(text: str) -> tuple[str, ...]:
    """Extra trainer options typed by a user ('--set sh_degree=1 --no-refine')."""
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise ValueError(f"Extra trainer options: {exc}") from None


def fit_command(python: str, settings: TrainSettings, *, resume: bool = False) -> list[str]:
    """``<python> -m training fit ...`` for these settings."""
    s = settings
    argv = [python, "-m", "training", "fit", "--data", s.data_dir, "--rig", s.rig.lower()]
    if s.rig != SEQUENCE:
        argv += ["--model", s.model_path]
    argv += ["--out", s.output_dir]
    argv += ["--device", s.device, "--preset", s.trainer_preset]
    if s.device == "cpu":
        argv += ["--backend", "pairs"]
    if s.iterations > 0:
        argv += ["--iterations", str(s.iterations)]
    if s.time_budget > 0:
        argv += ["--time-budget", f"{s.time_budget:g}"]
    argv += ["--resolution-scale", f"{s.resolution_scale:g}"]
    if s.max_gaussians > 0:
        argv += ["--max-gaussians", str(s.max_gaussians)]
    if s.preview_every > 0:
        argv += ["--preview-every", str(s.preview_every)]
    if s.checkpoint_every > 0:
        argv += ["--checkpoint-every", str(s.checkpoint_every)]
    if s.frame_stride > 0:
        argv += ["--frame-stride", str(s.frame_stride)]
    if s.max_frames > 0:
        argv += ["--max-frames", str(s.max_frames)]
    argv += list(s.extra_args)
    if resume:
        argv.append("--resume")
    return argv


def with_length(argv: list[str], iterations: int = 0, time_budget: float = 0.0) -> list[str]:
    """The same command with a new length (the trainer lets a resumed run change only that)."""
    out = list(argv)
    for flag, value in (("--iterations", iterations), ("--time-budget", time_budget)):
        if value <= 0:
            continue
        text = str(value) if flag == "--iterations" else f"{value:g}"
        if flag in out:
            out[out.index(flag) + 1] = text
        else:
            out[4:4] = [flag, text]
    return out


_DROPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__")


def trainer_environment(
    extension_root: str | os.PathLike[str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The trainer's environment: ours, without Blender's Python settings, with only the extension
    folder on PYTHONPATH (so ``python -m training`` is the trainer shipped with this add-on)."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _DROPPED_ENV}
    env["PYTHONPATH"] = str(Path(extension_root))
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env
