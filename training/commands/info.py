"""``python -m training info FILE``: what an avatar file, a 4D sequence file (``.gavatar4d``) or a
trainer checkpoint (rigged or 4D) holds.

Prints one ``{"event": "info", ...}`` line on stdout and a readable summary on stderr."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from training.errors import AvatarFileError, ExitCode
from training.runtime.protocol import EventWriter, format_seconds

LOG = logging.getLogger("training")


def _checkpoint_info(path: Path) -> dict:
    from training.files.checkpoint import load_checkpoint

    state = load_checkpoint(path)
    cfg = state["config"]
    return {
        "kind": "checkpoint",
        "path": str(path),
        "iteration": state["iteration"],
        "iterations": cfg.get("iterations"),
        "train_time": state["train_time"],
        "mode": "4d" if state.get("kind") == "4d" else "rigged",
        "gaussians": int(
            state["model"]["params.means"].shape[0]
            if state.get("kind") == "4d"
            else state["gaussians"]["offset"].shape[0]
        ),
        "dynamics_rank": cfg.get("dynamics_rank"),
        "data": cfg.get("data"),
        "model": cfg.get("model"),
        "config": cfg,
    }


def _avatar_info(path: Path) -> dict:
    from training.files.avatar_read import read_avatar

    data = read_avatar(path)
    header = data.header
    return {
        "kind": "avatar",
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "num_gaussians": header.get("num_gaussians"),
        "sh_degree": header.get("sh_degree"),
        "rig": header.get("rig"),
        "dynamics": header.get("dynamics"),
        "shading": header.get("shading"),
        "metrics": header.get("metrics"),
        "background": header.get("background"),
        "version": header.get("version"),
        "trainer": {k: v for k, v in header.get("trainer", {}).items() if k != "config"},
        "identity_keys": sorted(data.identity),
    }


def _sequence_info(path: Path) -> dict:
    from core.avatar.sequence_file import SequenceFile, SequenceFileError

    try:
        seq = SequenceFile(path)
    except SequenceFileError as exc:
        raise AvatarFileError(str(exc)) from None
    header = seq.header
    return {
        "kind": "sequence",
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "num_gaussians": seq.num_gaussians,
        "num_frames": seq.num_frames,
        "fps": seq.fps,
        "sh_degree": seq.sh_degree,
        "mb_per_second": path.stat().st_size / 1e6 / (seq.num_frames / seq.fps),
        # Of the Gaussian-frames, those the frames store (version 2 stores still Gaussians once).
        "listed_fraction": seq.num_entries / (seq.num_frames * seq.num_gaussians),
        "metrics": header.get("metrics"),
        "version": header.get("version"),
        "trainer": {k: v for k, v in header.get("trainer", {}).items() if k != "config"},
    }


def run_info(args: argparse.Namespace, events: EventWriter) -> int:
    from core.avatar.sequence_file import SUFFIX

    path = Path(args.file)
    if not path.is_file():
        raise AvatarFileError(f"{path} does not exist")
    if path.suffix == ".pt":
        info = _checkpoint_info(path)
    elif path.suffix == SUFFIX:
        info = _sequence_info(path)
    else:
        info = _avatar_info(path)
    if info["kind"] == "sequence":
        LOG.info(
            "%s: %s Gaussians x %s frames at %s fps, SH degree %s, %.1f MB (%.2f MB per second)",
            path.name, info["num_gaussians"], info["num_frames"], info["fps"], info["sh_degree"],
            info["size_bytes"] / 1e6, info["mb_per_second"],
        )  # fmt: skip
        events.emit("info", **info)
        return int(ExitCode.OK)
    if info["kind"] == "avatar":
        rig = info["rig"] or {}
        dyn = info["dynamics"] or {}
        LOG.info(
            "%s: %s Gaussians, SH degree %s, %s rig (%s), dynamics rank %s, normal shading %s, %.1f MB",
            path.name, info["num_gaussians"], info["sh_degree"], rig.get("family"), rig.get("model_name"),
            dyn.get("rank", 0), "on" if info["shading"] else "off", info["size_bytes"] / 1e6,
        )  # fmt: skip
    else:
        LOG.info(
            "%s: checkpoint at iteration %s/%s (%s of training), %s Gaussians",
            path.name, info["iteration"], info["iterations"], format_seconds(info["train_time"]),
            info["gaussians"],
        )  # fmt: skip
    events.emit("info", **info)
    return int(ExitCode.OK)
