"""``python -m training fit --rig none``: a 4D sequence (training/fourd) from a D-NeRF-style
dataset. The same options, protocol, exit codes and stop/resume behaviour as the rigged fit, on
one process (the 4D loop has no multi-GPU path yet)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from core.untrusted.errors import DAMAGED, describe
from training.commands.fit import VIDEO_OPTIONS, UsageError, _apply_sets, _output_folder_problem
from training.errors import DatasetError, ExitCode, Interrupted
from training.fourd.config import PRESETS, FourDConfig
from training.runtime.protocol import EventWriter
from training.runtime.signals import StopRequest

LOG = logging.getLogger("training")

# Command-line options that map one to one onto FourDConfig fields.
DIRECT = (
    "data", "out", "iterations", "time_budget", "device", "backend", "resolution_scale", "max_gaussians",
    "init_gaussians", "batch_cameras", "sh_degree", "cache_on_device", "seed", "preview_every",
    "checkpoint_every", "eval_every_seconds",
)  # fmt: skip
RIG_ONLY = ("model", "dynamics_rank", "export_max_mb", "fail_after")


def config_from_args(args: argparse.Namespace) -> FourDConfig:
    preset = args.preset or "default"
    if preset not in PRESETS:
        raise UsageError(f"--preset {preset} is for rigged avatars; 4D runs take {', '.join(PRESETS)}")
    given = [f"--{name.replace('_', '-')}" for name in RIG_ONLY if getattr(args, name, None)]
    if getattr(args, "no_refine", False):
        given.append("--no-refine")
    if given:
        raise UsageError(f"{', '.join(given)} only apply to rigged avatars, not to --rig none")
    values: dict[str, Any] = {"preset": preset, **PRESETS[preset]}
    for name in DIRECT:
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    _apply_sets(values, FourDConfig, args)
    values["extra"] = {k: getattr(args, k) for k in ("val_cameras", "test_frames") if getattr(args, k, None)}
    values["extra"].update({k: getattr(args, k) for k in VIDEO_OPTIONS if getattr(args, k, None) is not None})
    cfg = FourDConfig.from_dict(values)
    problems = []
    if cfg.iterations <= 0:
        problems.append("--iterations must be positive")
    if not 0 < cfg.resolution_scale <= 4:
        problems.append("--resolution-scale must be in (0, 4]")
    if cfg.max_gaussians <= 0 or cfg.init_gaussians <= 0:
        problems.append("--max-gaussians and --init-gaussians must be positive")
    if cfg.batch_cameras <= 0:
        problems.append("--batch-cameras must be positive")
    problem = _output_folder_problem(Path(cfg.out))
    if problem:
        problems.append(problem)
    if problems:
        raise UsageError("; ".join(problems))
    return cfg


def frames_folder(cfg: FourDConfig) -> str:
    """The folder the 4D trainer reads: a DyNeRF scene's chosen frames as images (its videos
    decoded once, core/datasets/formats/dynerf_videos.py), any other dataset where it is."""
    from core.datasets import DatasetError as ReaderError
    from core.datasets import ReadOptions, detect_format
    from core.datasets.formats import dynerf

    choice = {k: int(cfg.extra[k]) for k in VIDEO_OPTIONS if k in cfg.extra}
    try:
        if detect_format(cfg.data) != dynerf.FORMAT:
            if choice:
                flags = ", ".join(f"--{k.replace('_', '-')}" for k in choice)
                raise UsageError(f"{flags} only apply to DyNeRF multi-view videos, not to {cfg.data}")
            return cfg.data
        root = Path(cfg.data).expanduser().resolve()
        root = root.parent if root.is_file() else root
        folder = dynerf.prepared_folder(root, ReadOptions(**choice), log=lambda text: LOG.info("%s", text))
    except ReaderError as exc:
        raise DatasetError(str(exc)) from None
    except DAMAGED as exc:  # a damaged file the reader did not name: still the dataset's fault
        raise DatasetError(f"{cfg.data}: the dataset cannot be read ({describe(exc)})") from None
    if folder != root:
        LOG.info("training the frames in %s", folder)
    return str(folder)


def run_fit_4d(args: argparse.Namespace, events: EventWriter) -> int:
    cfg = config_from_args(args)
    stop = StopRequest()
    stop.install()
    try:
        cfg.data = frames_folder(cfg)  # decoding a scene's videos takes minutes the first time
        from training.fourd.trainer import SequenceTrainer

        trainer = SequenceTrainer(cfg, events, stop, resume=args.resume, stop_after=args.stop_after)
        trainer.setup()
        if stop.requested:
            raise Interrupted(stop.signal_name or "signal", "(none: stopped before training started)")
        trainer.run()
    finally:
        stop.uninstall()
    return int(ExitCode.OK)
