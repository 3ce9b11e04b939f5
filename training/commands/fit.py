"""``python -m training fit``: build the config (defaults < preset < options), run the Trainer.

Started by torchrun (``WORLD_SIZE`` > 1), every process joins the process group first
(training/runtime/distributed.py) and runs the same Trainer on its own GPU."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from training.config import PRESETS, TrainConfig
from training.errors import ExitCode, TrainerError
from training.fourd.config import VIDEO_CHOICES
from training.runtime.protocol import EventWriter, tag_logs
from training.runtime.signals import StopRequest

LOG = logging.getLogger("training")
# The frame choice of DyNeRF multi-view videos (training/commands/fit_4d.py).
VIDEO_OPTIONS = tuple(VIDEO_CHOICES)

# Command-line options that map one to one onto TrainConfig fields.
DIRECT = (
    "data", "rig", "model", "out", "iterations", "time_budget", "device", "backend", "resolution_scale",
    "max_gaussians", "init_gaussians", "batch_cameras", "sh_degree", "dynamics_rank", "cache_on_device",
    "seed", "preview_every", "checkpoint_every", "eval_every_seconds", "export_max_mb",
)  # fmt: skip


def _coerce(field: dataclasses.Field, text: str) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "str")
    if kind == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true/false, got {text!r}")
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind.startswith("dict"):
        return json.loads(text)
    return text


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    preset = args.preset or "default"
    if preset not in PRESETS:
        raise UsageError(f"--preset {preset} is for 4D runs (--rig none); choose one of {', '.join(PRESETS)}")
    if not getattr(args, "model", None):
        raise UsageError(f"--rig {args.rig} needs --model (the rig model file)")
    video_only = [f"--{n.replace('_', '-')}" for n in VIDEO_OPTIONS if getattr(args, n, None) is not None]
    if video_only:
        raise UsageError(f"{', '.join(video_only)} only apply to DyNeRF videos trained with --rig none")
    values: dict[str, Any] = {"preset": preset, **PRESETS[preset]}
    for name in DIRECT:
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    if getattr(args, "no_refine", False):
        values.update(refine_expression=False, refine_pose=False, refine_translation=False)
    _apply_sets(values, TrainConfig, args)
    extra = {}
    if getattr(args, "val_cameras", None):
        extra["val_cameras"] = args.val_cameras
    if getattr(args, "test_frames", None):
        extra["test_frames"] = args.test_frames
    values["extra"] = extra
    cfg = TrainConfig.from_dict(values)
    _validate(cfg)
    return cfg


def _apply_sets(values: dict[str, Any], config_class: type, args: argparse.Namespace) -> None:
    """``--set KEY=VALUE`` items onto ``values``, typed by the config class's fields."""
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    for item in getattr(args, "set", None) or []:
        key, sep, text = item.partition("=")
        if not sep or key not in fields or key == "extra":
            raise UsageError(f"--set {item!r}: expected KEY=VALUE with KEY a training setting")
        try:
            values[key] = _coerce(fields[key], text)
        except ValueError as exc:
            raise UsageError(f"--set {item!r}: {exc}") from None


def _validate(cfg: TrainConfig) -> None:
    problems = []
    if cfg.iterations <= 0:
        problems.append("--iterations must be positive")
    if not 0 < cfg.resolution_scale <= 4:
        problems.append("--resolution-scale must be in (0, 4]")
    if cfg.max_gaussians <= 0:
        problems.append("--max-gaussians must be positive")
    if cfg.batch_cameras <= 0:
        problems.append("--batch-cameras must be positive")
    if cfg.dynamics_rank < 0:
        problems.append("--dynamics-rank must be 0 (static) or more")
    if cfg.densify_strategy not in ("adaptive", "mcmc"):  # training/loop/strategies.py
        problems.append(f"densify_strategy must be adaptive or mcmc, not {cfg.densify_strategy!r}")
    out_problem = _output_folder_problem(Path(cfg.out))
    if out_problem:
        problems.append(out_problem)
    if problems:
        raise UsageError("; ".join(problems))


def _fail_at(text: str | None, rank: int) -> int | None:
    """The hidden --fail-after RANK:ITERATION (tests): the iteration this rank fails at, if any."""
    if not text:
        return None
    who, _, when = text.partition(":")
    return int(when) if int(who) == rank else None


def _output_folder_problem(out: Path) -> str | None:
    """Why ``--out`` cannot be the output folder, checked before any heavy work starts."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder: give a folder for the avatar, checkpoint and previews"
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"--out {out}: {ancestor} is a file, so the folder cannot be made"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"--out {out}: {ancestor} is not writable"
    return None


class UsageError(TrainerError):
    code = ExitCode.USAGE
    kind = "usage"


def run_fit(args: argparse.Namespace, events: EventWriter) -> int:
    if args.rig == "none":
        from training.commands.fit_4d import run_fit_4d

        return run_fit_4d(args, events)
    from training.errors import Interrupted
    from training.runtime.launch import launched_ranks

    rank, size, _local = launched_ranks()
    events.for_rank(rank, size)
    tag_logs(rank, size)
    cfg = config_from_args(args)
    # A launcher (torchrun) passes the user's interrupt on to its workers: with several processes
    # a signal within a few seconds of the first is the same request, not "stop at once".
    # Installed before torch and the trainer are imported (seconds), so a stop asked for while
    # loading is a clean exit too.
    stop = StopRequest(repeat_grace=3.0 if size > 1 else 0.0)
    stop.install()
    world = None
    try:
        from training.loop.trainer import Trainer
        from training.runtime.distributed import init_world

        world = init_world(cfg.device)
        trainer = Trainer(cfg, events, stop, resume=args.resume, stop_after=args.stop_after, world=world)
        trainer.fail_at = _fail_at(getattr(args, "fail_after", None), world.rank)
        trainer.setup()
        if stop.requested and not world.distributed:
            # Asked to stop while loading: nothing trained yet, so nothing to save.
            raise Interrupted(stop.signal_name or "signal", "(none: stopped before training started)")
        trainer.run()
    except Interrupted:
        if world is not None:
            world.close()  # every rank stopped at the same step: leave the group cleanly
        raise
    else:
        world.close()
    finally:
        stop.uninstall()
    return int(ExitCode.OK)
