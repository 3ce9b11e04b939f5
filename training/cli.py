"""Command line of the trainer: ``python -m training {fit,eval,render,info,track}``.

stdout carries the JSON-lines protocol only (training/runtime/protocol.py); logs go to stderr. The exit
codes are in training/errors.py and training/README.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from training.errors import ExitCode, Interrupted, OutOfMemoryError, TrainerError
from training.runtime.protocol import EventWriter, setup_logging

LOG = logging.getLogger("training")

OOM_HINT = "lower --max-gaussians, --resolution-scale or --batch-cameras"


def _fit_parser(sub: Any) -> None:
    p = sub.add_parser("fit", help="train an avatar from a tracked dataset (or a 4D sequence: --rig none)")
    p.add_argument("--data", required=True, help="dataset folder (any format core/datasets reads)")
    p.add_argument(
        "--rig",
        required=True,
        choices=["flame", "smplx", "none"],
        help="rig family of the dataset; none: a 4D sequence from a D-NeRF-style dataset (training/fourd)",
    )
    p.add_argument("--model", default=None, help="rig model file (FLAME .pkl / SMPL-X .npz, or a stand-in)")
    p.add_argument("--out", required=True, help="output folder (avatar, checkpoint, previews)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    # Everything below defaults to the preset's value (None = not given on the command line).
    p.add_argument("--preset", choices=["default", "fast", "static", "tiny", "cpu"], default=None)
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--time-budget", type=float, default=None, help="seconds of training (0: none)")
    p.add_argument("--device", choices=["cuda", "cpu"], default=None)
    p.add_argument("--backend", choices=["auto", "gsplat", "inria", "reference", "pairs"], default=None)
    p.add_argument("--resolution-scale", type=float, default=None, help="resize images by this factor")
    p.add_argument("--max-gaussians", type=int, default=None, help="cap on the Gaussian count")
    p.add_argument("--init-gaussians", type=int, default=None, help="initial count (0: three per face)")
    p.add_argument("--batch-cameras", type=int, default=None, help="cameras of one timestep per step")
    p.add_argument("--sh-degree", type=int, choices=[0, 1, 2, 3], default=None)
    p.add_argument("--dynamics-rank", type=int, default=None, help="rank K of the blendshapes (0: static)")
    p.add_argument("--no-refine", action="store_true", help="do not refine the tracked rig parameters")
    p.add_argument("--cache", dest="cache_on_device", choices=["auto", "yes", "no"], default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--preview-every", type=int, default=None, help="iterations between previews (0: none)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="iterations between checkpoints")
    p.add_argument("--eval-every-seconds", type=float, default=None, help="held-out evaluation interval")
    p.add_argument("--export-max-mb", type=float, default=None, help="compact the avatar file to this size")
    p.add_argument(
        "--val-cameras", default=None, help="comma-separated held-out cameras (formats without splits)"
    )
    p.add_argument("--test-frames", default=None, help="held-out timesteps: a count, a fraction or a list")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any TrainConfig field")
    # DyNeRF multi-view videos (--rig none): the frames to decode and train.
    p.add_argument("--frame-stride", type=int, default=None, help="DyNeRF: keep every n-th video frame")
    p.add_argument("--max-frames", type=int, default=None, help="DyNeRF: keep at most this many frames")
    p.add_argument(
        "--video-downscale", type=int, default=None, help="DyNeRF: decode at 1/n size (0: long side <= 1352)"
    )
    p.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)  # tests: act as SIGTERM
    # tests: RANK:ITERATION makes that rank fail there (several processes must not hang)
    p.add_argument("--fail-after", default=None, help=argparse.SUPPRESS)


def _eval_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="render a dataset split with an avatar and score it")
    p.add_argument("--avatar", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", choices=["train", "val", "test"], default="val")
    p.add_argument("--model", default=None, help="rig model file (default: the one recorded at training)")
    p.add_argument("--tracking", default=None, help="refined tracking (tracking.npz from fit) to use")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--backend", choices=["auto", "gsplat", "inria", "reference", "pairs"], default="auto")
    p.add_argument("--resolution-scale", type=float, default=1.0)
    p.add_argument("--max-images", type=int, default=0, help="evaluate at most this many images (0: all)")
    p.add_argument("--save-images", default=None, help="folder for rendered PNGs")
    p.add_argument("--val-cameras", default=None)
    p.add_argument("--test-frames", default=None)


def _render_parser(sub: Any) -> None:
    p = sub.add_parser("render", help="render an avatar with given rig parameters and cameras")
    p.add_argument("--avatar", required=True)
    p.add_argument(
        "--params", required=True, help=".npz or .json rig parameters (leading frame axis: a sequence)"
    )
    p.add_argument(
        "--camera", required=True, help="camera .json (OpenCV K, world_to_camera, width, height), or a list"
    )
    p.add_argument("--out", required=True, help="output folder for PNGs")
    p.add_argument("--model", default=None)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--backend", choices=["auto", "gsplat", "inria", "reference", "pairs"], default="auto")
    p.add_argument("--background", default=None, help="r,g,b in [0,1] (default: the avatar's)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    _fit_parser(sub)
    _eval_parser(sub)
    _render_parser(sub)
    p = sub.add_parser("info", help="describe an avatar file or a checkpoint")
    p.add_argument("file")
    from training.track.options import add_parser as add_track_parser

    add_track_parser(sub)
    return parser


def _dispatch(args: argparse.Namespace, events: EventWriter) -> int:
    if args.command == "fit":
        from training.commands.fit import run_fit

        return run_fit(args, events)
    if args.command == "eval":
        from training.commands.evaluate import run_eval

        return run_eval(args, events)
    if args.command == "track":
        from training.track.command import run_track

        return run_track(args, events)
    if args.command == "render":
        from training.commands.render import run_render

        return run_render(args, events)
    from training.commands.info import run_info

    return run_info(args, events)


def _is_oom(exc: BaseException) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    events = EventWriter()
    try:
        return _dispatch(args, events)
    except Interrupted as stop:
        LOG.warning("%s", stop)
        events.emit(
            "stopped",
            signal=stop.signal_name,
            checkpoint=stop.checkpoint,
            exit_code=int(ExitCode.INTERRUPTED),
        )
        return int(ExitCode.INTERRUPTED)
    except TrainerError as err:
        return _report(events, err)
    except KeyboardInterrupt:
        LOG.error("stopped at once by a second signal: no checkpoint written")
        events.emit("error", kind="interrupted", message="stopped by a second signal", exit_code=130)
        return 130
    except Exception as exc:
        if _is_oom(exc):
            return _report(
                events, OutOfMemoryError(f"out of GPU memory: {str(exc).splitlines()[0]}", OOM_HINT)
            )
        traceback.print_exc(file=sys.stderr)
        events.emit(
            "error", kind="internal", message=f"{type(exc).__name__}: {exc}", exit_code=int(ExitCode.INTERNAL)
        )
        return int(ExitCode.INTERNAL)


def _report(events: EventWriter, err: TrainerError) -> int:
    LOG.error("%s", err)
    events.emit("error", kind=err.kind, message=err.message, hint=err.hint, exit_code=int(err.code))
    return int(err.code)
