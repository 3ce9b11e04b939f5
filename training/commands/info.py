"""``python -m training info FILE``: what an avatar file (or a trainer checkpoint) holds.

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
        "gaussians": int(state["gaussians"]["offset"].shape[0]),
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


def run_info(args: argparse.Namespace, events: EventWriter) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise AvatarFileError(f"{path} does not exist")
    info = _checkpoint_info(path) if path.suffix == ".pt" else _avatar_info(path)
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
