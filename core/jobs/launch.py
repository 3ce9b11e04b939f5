"""Training on several GPUs from the add-on: how many GPUs the trainer would see, and the torchrun
command that starts one trainer process per GPU.

Blender's Python has no torch, so the count comes from ``nvidia-smi -L`` (limited by
``CUDA_VISIBLE_DEVICES`` when set). The launch is torch's own launcher, run by the trainer Python:
``<python> -m torch.distributed.run --standalone --nproc_per_node N -m training fit ...``
(``--standalone``: a private rendezvous on a free local port, so two trainings never meet).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence

LAUNCHER = ("-m", "torch.distributed.run")
TRAINER = ("-m", "training")
MAX_GPUS = 16


def count_gpus(listing: str, visible_devices: str | None = None) -> int:
    """GPUs in ``nvidia-smi -L`` output, limited by a CUDA_VISIBLE_DEVICES value."""
    count = sum(1 for line in listing.splitlines() if line.startswith("GPU "))
    if visible_devices is None:
        return count
    chosen = [d for d in visible_devices.split(",") if d.strip()]
    if chosen and chosen[0].strip() == "-1":
        return 0
    return min(count, len(chosen))


def visible_gpus(
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    env: Mapping[str, str] | None = None,
) -> int:
    """NVIDIA GPUs a trainer started from here would see; 0 when nvidia-smi is missing or fails."""
    env = os.environ if env is None else env
    try:
        done = run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return 0
    if done.returncode != 0:
        return 0
    return count_gpus(done.stdout or "", env.get("CUDA_VISIBLE_DEVICES"))


def split_launcher(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(python + launcher options, the trainer part from ``-m training`` on)."""
    args = list(argv)
    for i in range(1, len(args) - 1):
        if (args[i], args[i + 1]) == TRAINER:
            return args[:i], args[i:]
    raise ValueError("not a trainer command (no '-m training')")


def gpus_of(argv: Sequence[str]) -> int:
    """How many processes the command starts (1 without the launcher)."""
    head, _ = split_launcher(argv)
    if "--nproc_per_node" in head:
        return int(head[head.index("--nproc_per_node") + 1])
    return 1


def with_gpus(argv: Sequence[str], gpus: int) -> list[str]:
    """The same trainer command started on ``gpus`` GPUs (1: plain ``python -m training``)."""
    head, trainer = split_launcher(argv)
    python = head[0]
    if gpus <= 1:
        return [python, *trainer]
    launcher = [*LAUNCHER, "--standalone", "--nproc_per_node", str(gpus)]
    return [python, *launcher, *trainer]


def gpu_problem(gpus: int, device: str, visible: int) -> str:
    """Why ``gpus`` GPUs cannot be used ('' when they can)."""
    if gpus <= 1:
        return ""
    if device != "cuda":
        return f"{gpus} GPUs need Device CUDA; CPU training runs as one process"
    if gpus > visible:
        seen = "no GPU is" if visible == 0 else ("1 GPU is" if visible == 1 else f"only {visible} GPUs are")
        return f"{gpus} GPUs asked for, but {seen} visible (nvidia-smi -L)"
    return ""
