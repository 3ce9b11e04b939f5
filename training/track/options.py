"""The ``track`` subcommand's options (argparse only: building the parser imports nothing heavy)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("track", help="track FLAME parameters from a video or a capture into a dataset")
    p.add_argument(
        "--video",
        required=True,
        help="video file, folder of images, capture folder (one per camera) or a dataset folder",
    )
    p.add_argument(
        "--calibration", default=None, help="cameras of a capture: JSON or COLMAP cameras.txt/images.txt"
    )
    p.add_argument("--model", default=None, help="FLAME-format model file (default: the free stand-in)")
    p.add_argument("--out", required=True, help="new (or empty) folder for the dataset")
    p.add_argument(
        "--focal", type=float, default=None, help="focal length in pixels (one camera; else estimated)"
    )
    p.add_argument("--max-frames", type=int, default=0, help="track at most this many frames (0: all)")
    p.add_argument("--every", type=int, default=1, help="keep every N-th frame")
    p.add_argument(
        "--max-size", type=int, default=1024, help="downscale frames whose longer side exceeds this"
    )
    p.add_argument("--iterations", type=int, default=None, help="fitting iterations (after the rigid ones)")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when present")
    p.add_argument("--no-masks", action="store_true", help="do not write person masks")
    p.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)  # tests: act as SIGTERM
