"""A stand-in multi-view head dataset for the GPU benchmark, until the built-in synthetic one (made
with Blender) is at hand: the FLAME-layout rig posed with random expressions, jaw, neck and eye
motion, a colourful ground-truth Gaussian avatar bound to it (whose lower-face colour follows the
expression and the jaw), rendered from a ring of cameras into the GaussianAvatars layout (one
held-out camera; held-out last timesteps). The generator is tests/fixtures/trainer.py's.

    python benchmarks/training/make_head_dataset.py --model flame_standin.pkl --out DIR [--size 512]
        [--cameras 16] [--timesteps 60] [--test 6] [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.trainer import write_head_dataset  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--timesteps", type=int, default=60)
    parser.add_argument("--test", type=int, default=6, help="held-out last timesteps")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--per-face", type=int, default=3)
    parser.add_argument("--detail", type=float, default=2.0)
    args = parser.parse_args()
    start = time.perf_counter()
    backend = "gsplat" if args.device == "cuda" else "reference"
    write_head_dataset(
        Path(args.out), Path(args.model), size=args.size, cameras=args.cameras, timesteps=args.timesteps,
        val_camera=args.cameras // 2, test_timesteps=tuple(range(args.timesteps - args.test, args.timesteps)),
        device=args.device, backend=backend, per_face=args.per_face, detail=args.detail,
    )  # fmt: skip
    print(f"wrote {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
