"""CPU rasterizer speed: the pairs backend against the tile reference, in the same run.

Part 1 renders head-like scenes (Gaussians on a 10 cm sphere 0.6 m in front of one camera, sized
to cover the surface) forward and backward with both backends and prints seconds per
camera, the ratio and the largest pixel difference. Part 2 (with ``--data`` and ``--model``) runs
the real trainer (``python -m training fit``, preset tiny) for a few iterations with each backend
and prints iterations per second.

Run:  .venv/bin/python -m benchmarks.training.cpu_rasterizer [--sizes 3000x64 3000x128 20000x128 20000x256]
          [--data ~/.cache/gaussian_avatar/synthetic/head_small --model .../flame_standin.pkl]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from training.render import rasterize  # noqa: E402


def head_scene(count: int, size: int, seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    direction = torch.randn(count, 3, generator=gen)
    means = 0.1 * direction / direction.norm(dim=-1, keepdim=True)
    spacing = 0.1 * math.sqrt(4 * math.pi / count)  # mean distance between neighbours on the sphere
    scales = spacing * (0.4 + 0.8 * torch.rand(count, 3, generator=gen))
    quats = torch.randn(count, 4, generator=gen)
    opacities = 0.2 + 0.8 * torch.rand(count, generator=gen)
    colors = 0.3 * torch.randn(count, 4, 3, generator=gen)  # SH degree 1
    viewmat = torch.eye(4)
    viewmat[2, 3] = 0.6
    focal = 1.6 * size  # the head fills about half the frame
    k = torch.tensor([[focal, 0.0, (size - 1) / 2], [0.0, focal, (size - 1) / 2], [0.0, 0.0, 1.0]])
    return [means, quats, scales.log(), opacities, colors], viewmat, k


def time_backend(backend: str, params: list[torch.Tensor], viewmat: torch.Tensor, k: torch.Tensor, size: int,
                 repeats: int) -> tuple[float, torch.Tensor]:  # fmt: skip
    leaves = [p.clone().requires_grad_() for p in params]
    best = math.inf
    image = torch.empty(0)
    for _ in range(repeats):
        start = time.perf_counter()
        means, quats, log_scales, opacities, colors = leaves
        rendered = rasterize(
            means, quats, log_scales.exp(), opacities, colors, viewmat, k, size, size,
            sh_degree=1, background=torch.ones(3), backend=backend,
        )  # fmt: skip
        (rendered[0] - 0.5).square().mean().backward()
        best = min(best, time.perf_counter() - start)
        image = rendered[0].detach()
        for leaf in leaves:
            leaf.grad = None
    return best, image


def render_part(sizes: list[str], repeats: int) -> list[dict]:
    rows = []
    print(f"{'gaussians':>9} {'pixels':>9} {'reference s':>12} {'pairs s':>9} {'ratio':>6} {'max diff':>9}")
    for spec in sizes:
        count, size = (int(v) for v in spec.split("x"))
        params, viewmat, k = head_scene(count, size)
        ref_s, ref_img = time_backend("reference", params, viewmat, k, size, repeats)
        pairs_s, pairs_img = time_backend("pairs", params, viewmat, k, size, repeats)
        diff = float((ref_img - pairs_img).abs().max())
        rows.append(
            {"gaussians": count, "size": size, "reference_s": ref_s, "pairs_s": pairs_s, "max_diff": diff}
        )
        ratio = ref_s / pairs_s
        print(f"{count:>9} {size:>4}x{size:<4} {ref_s:>12.3f} {pairs_s:>9.3f} {ratio:>6.1f} {diff:>9.1e}")
    return rows


def train_part(data: str, model: str, iterations: int) -> dict[str, float]:
    rates = {}
    for backend in ("reference", "pairs"):
        with tempfile.TemporaryDirectory() as out:
            cmd = [
                sys.executable, "-m", "training", "fit", "--data", data, "--rig", "flame", "--model", model,
                "--out", out, "--device", "cpu", "--backend", backend, "--preset", "tiny",
                "--iterations", str(iterations), "--set", "log_every=1",
            ]  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
            progress = [e for e in events if e.get("event") == "progress"]
            if proc.returncode != 0 or len(progress) < 3:
                raise SystemExit(f"training with {backend} failed ({proc.returncode}): {proc.stderr[-800:]}")
            # Steady state: from the third logged iteration to the last (skips warm-up).
            first, last = progress[2], progress[-1]
            rates[backend] = (last["iteration"] - first["iteration"]) / (last["elapsed"] - first["elapsed"])
        print(f"training, tiny preset, {backend:>9}: {rates[backend]:.2f} it/s")
    print(f"training speed-up: {rates['pairs'] / rates['reference']:.1f}x")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["3000x64", "3000x128", "20000x128", "20000x256"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data")
    parser.add_argument("--model")
    parser.add_argument("--iterations", type=int, default=25)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    results: dict = {"render": render_part(args.sizes, args.repeats)}
    if args.data and args.model:
        results["train_its_per_s"] = train_part(args.data, args.model, args.iterations)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
