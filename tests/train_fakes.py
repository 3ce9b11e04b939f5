"""Stand-in trainer Pythons for the error paths of training from Blender.

``write_fake_python(folder, mode)`` writes an executable that the add-on can be pointed at as its
trainer Python. Called as ``<it> -m training fit ... --out OUT``, it speaks the real protocol
(training/README.md) and ends the way ``mode`` says, fast and without torch:

- ``crash``: start, two progress lines, a checkpoint, then a traceback on stderr and exit 1
- ``no_cuda``: the trainer's no-CUDA error event, exit 3
- ``no_space``: progress, then an ENOSPC error while writing the checkpoint, exit 1
- ``no_torch``: ``ModuleNotFoundError: No module named 'torch'`` on stderr, exit 1 (a Python without torch)
- ``slow``: progress every 50 ms; SIGTERM writes a checkpoint, prints checkpoint + stopped, exits 75
- ``stubborn``: progress forever, ignoring SIGTERM (only a kill stops it)
- ``garbage``: non-JSON lines on stdout, then exit 0 without a result
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

_SCRIPT = r"""
import json, os, signal, sys, time

MODE = {mode!r}
args = sys.argv[1:]
out = args[args.index("--out") + 1] if "--out" in args else "."
os.makedirs(out, exist_ok=True)
total = int(args[args.index("--iterations") + 1]) if "--iterations" in args else 1000
resumed = 7 if "--resume" in args else None
with open(os.path.join(out, "fake_argv.json"), "a") as f:
    f.write(json.dumps(args) + "\n")


def emit(event, **fields):
    print(json.dumps({{"event": event, **fields}}), flush=True)


def checkpoint(iteration):
    path = os.path.join(out, "checkpoint.pt")
    with open(path, "wb") as f:
        f.write(b"fake checkpoint %d" % iteration)
    emit("checkpoint", path=path, iteration=iteration)
    return path


def progress(i):
    emit("progress", iteration=i, iterations=total, loss=1.0 / (i + 1), psnr=10.0 + i, gaussians=100 + i,
         its_per_s=20.0, elapsed=0.05 * i, eta=0.05 * (total - i), progress=i / total)


stop = []
if MODE == "slow":
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
elif MODE == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

if MODE == "no_torch":
    sys.stderr.write("Traceback (most recent call last):\n  File \"<frozen runpy>\", line 198\n"
                     "ModuleNotFoundError: No module named 'torch'\n")
    sys.exit(1)
if MODE == "no_cuda":
    sys.stderr.write("12:00:00 ERROR --device cuda was asked for, but this torch sees no CUDA device\n")
    emit("error", kind="no_cuda", message="--device cuda was asked for, but this torch sees no CUDA device",
         hint="use --device cpu for small runs, or a Python whose torch has CUDA", exit_code=3)
    sys.exit(3)
if MODE == "garbage":
    print("hello from a sitecustomize", flush=True)
    print("{{not json", flush=True)
    sys.exit(0)

emit("start", iterations=total, time_budget=None, resumed_from=resumed, device="cpu", backend="reference",
     gaussians=100, train_images=4, cameras=2, timesteps=2, resolution=[16, 16], dynamics_rank=0, out=out,
     config={{}})
i = resumed or 0
if MODE in ("crash", "no_space"):
    for i in (1, 2):
        progress(i)
    if MODE == "crash":
        checkpoint(2)
        sys.stderr.write("12:00:01 INFO it 2/%d\nTraceback (most recent call last):\n"
                         "  File \"trainer.py\", line 300, in step\n"
                         "ZeroDivisionError: float division by zero\n" % total)
        emit("error", kind="internal", message="ZeroDivisionError: float division by zero", exit_code=1)
    else:
        sys.stderr.write("Traceback (most recent call last):\n"
                         "OSError: [Errno 28] No space left on device: '%s/checkpoint.pt.tmp'\n" % out)
        emit("error", kind="internal", message="OSError: [Errno 28] No space left on device", exit_code=1)
    sys.exit(1)

while True:
    i += 1
    progress(i)
    time.sleep(0.05)
    if stop:
        path = checkpoint(i)
        emit("stopped", signal="SIGTERM", checkpoint=path, exit_code=75)
        sys.exit(75)
    if MODE == "slow" and i >= total:
        avatar = os.path.join(out, "avatar.gavatar")
        emit("done", avatar=avatar, tracking="", checkpoint="", metrics={{}}, history=[])
        sys.exit(0)
"""


def write_fake_python(folder: Path, mode: str) -> Path:
    """An executable that behaves as ``<trainer python> -m training fit`` does in ``mode``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fake-python-{mode}"
    path.write_text(f"#!{sys.executable}\n" + _SCRIPT.format(mode=mode), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fit_argv(python: Path, out: Path, *extra: str) -> list[str]:
    return [str(python), "-m", "training", "fit", "--data", "d", "--rig", "flame", "--model", "m",
            "--out", str(out), *extra]  # fmt: skip
