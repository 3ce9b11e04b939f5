"""Dynamic vs static binding where the appearance really depends on the expression.

The Blender-made synthetic head has almost no expression-dependent appearance beyond the mesh's
own motion, so there the blendshapes have little to learn. This benchmark checks that they learn
such appearance when it is there, and carry it to unseen expressions: tests/fixtures/trainer.py's
generated head, whose lower-face colour follows two expression coefficients and the jaw, rendered
with the reference rasterizer, then the same fit with and without blendshapes (both at once).

    .venv/bin/python benchmarks/training/dynamics_signal.py --out DIR [--iterations 2000] [--device cpu]

Prints the held-out camera (val) and unseen-expression (test) PSNR of both variants.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.training.concurrent_ab import done_metrics, fit_at_once  # noqa: E402
from tests.fixtures.trainer import write_head_dataset, write_head_model  # noqa: E402

VARIANTS = {"dynamic": [], "static": ["--dynamics-rank", "0"]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--cameras", type=int, default=9)
    parser.add_argument("--timesteps", type=int, default=30)
    parser.add_argument("--test", type=int, default=6, help="held-out last timesteps")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    model = write_head_model(args.out / "model")
    data = args.out / "data"
    if not (data / "transforms_test.json").is_file():
        test = tuple(range(args.timesteps - args.test, args.timesteps))
        write_head_dataset(
            data, model, size=args.size, cameras=args.cameras, timesteps=args.timesteps,
            val_camera=args.cameras // 2, test_timesteps=test,
        )  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    start = time.perf_counter()
    common = [
        "--data", str(data), "--rig", "flame", "--model", str(model), "--device", args.device,
        "--preset", args.preset, "--iterations", str(args.iterations), "--checkpoint-every", "0",
    ]  # fmt: skip
    fits = {
        name: [*common, "--out", str(args.out / f"out_{name}"), *extra] for name, extra in VARIANTS.items()
    }
    for name, code in fit_at_once(fits, args.out, env).items():
        if code != 0:
            print(f"{name}: fit failed with exit code {code} (see {args.out / (name + '.err')})")
            return 1
    print(f"{args.iterations} iterations each, both at once, {time.perf_counter() - start:.0f} s")
    print("variant   held-out camera   unseen expressions   (PSNR dB / SSIM)")
    for name in VARIANTS:
        m = done_metrics(args.out / f"{name}.jsonl")
        val = f"{m['val_psnr']:.2f} / {m['val_ssim']:.3f}"
        test = f"{m['test_psnr']:.2f} / {m['test_ssim']:.3f}"
        print(f"{name:8s}  {val}    {test}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
