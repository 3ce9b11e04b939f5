"""Benchmark of the trainer on a head dataset (issue 5): train for a fixed wall time on one GPU with
the dynamic blendshapes and without them (static binding), and measure

- training seconds to reach 30 and 33 dB PSNR on the held-out cameras (val),
- PSNR / SSIM on the held-out cameras and on the held-out frames (test, unseen expressions) at the
  end and at 6.5 minutes (the GaussianAvatars reference point),
- iterations per second, images per second, peak GPU memory, Gaussian count,
- render speed of the trained avatar at the dataset resolution with the rig deformation included
  (rig LBS + binding + dynamics + rasterization per frame), also for the avatar tiled to 100k
  Gaussians, one frame at a time and in batches.

    python benchmarks/training/train_head.py --data DIR --model PATH --out DIR [--minutes 10]
        [--variants dynamic,static] [--preset fast] [--set KEY=VALUE ...]

Results: OUT/results.json (everything), OUT/summary.md (a table), OUT/<variant>/events.jsonl
(the trainer's protocol), OUT/<variant>/avatar.gavatar. Evaluation time is not counted as training
time. Run it on purpose (through the device tool); it is not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.training.render_speed import describe, profile_frames, render_speed  # noqa: E402
from training.commands.fit import _coerce  # noqa: E402
from training.config import PRESETS, TrainConfig  # noqa: E402
from training.runtime.protocol import EventWriter, setup_logging  # noqa: E402

GA_REFERENCE_SECONDS = 390.0  # GaussianAvatars' figures are after 6.5 minutes


def parse_overrides(items: list[str]) -> dict[str, Any]:
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    out = {}
    for item in items:
        key, _, text = item.partition("=")
        out[key] = _coerce(fields[key], text)
    return out


def at_time(history: list[dict], seconds: float, split: str) -> dict | None:
    """The evaluation closest to ``seconds`` of training (from the trainer's eval history)."""
    rows = [h for h in history if split in h]
    if not rows:
        return None
    best = min(rows, key=lambda h: abs(h["elapsed"] - seconds))
    return {"elapsed": best["elapsed"], **best[split]}


def profile_steps(trainer: Any, steps: int, path: Path) -> None:
    """Where a training step's time goes (torch.profiler over a few steps, before the timed run;
    they change the model a little, like a short warm-up)."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(5):
        trainer.step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    torch.cuda.synchronize()
    plain = (time.perf_counter() - start) / steps
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            trainer.step()
        torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=40)
    table_cpu = prof.key_averages().table(sort_by="cpu_time_total", row_limit=25)
    path.write_text(f"{plain * 1e3:.3f} ms per step without the profiler\n\n{table}\n\n{table_cpu}\n")
    trainer.iteration = 0  # the timed run starts from here (its schedule from the start)


def train_variant(name: str, args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    from training.loop.trainer import Trainer

    out = Path(args.out) / name
    out.mkdir(parents=True, exist_ok=True)
    values = {
        **PRESETS[args.preset],
        "preset": args.preset,
        "data": args.data,
        "rig": args.rig,
        "model": args.model,
        "out": str(out),
        "device": "cuda",
        "iterations": args.iterations,
        "time_budget": args.minutes * 60.0,
        "eval_every_seconds": args.eval_every,
        "eval_max_images": args.eval_images,
        "preview_every": 0,
        "checkpoint_every": 0,
        "log_every": 200,
        **overrides,
    }
    cfg = TrainConfig.from_dict(values)
    with (out / "events.jsonl").open("w") as stream:
        trainer = Trainer(cfg, EventWriter(stream))
        trainer.setup()
        torch.cuda.synchronize()
        if args.profile_steps:
            profile_steps(trainer, args.profile_steps, out / "profile.txt")
        metrics = trainer.run()
        # The final scores on every held-out image, not the subset used during training.
        trainer.cfg.eval_max_images = 0
        trainer.held_out.clear()
        start = time.perf_counter()
        full = {split: trainer.evaluate_split(split) for split in ("val", "test")}
        eval_seconds = time.perf_counter() - start
        trained_gaussians = trainer.gaussians.num_gaussians
        small = None
        if args.small_mb > 0 and name == "dynamic":
            # A compact copy for the Blender-side stages (not counted as training time).
            start = time.perf_counter()
            report = trainer.compact_to_size(args.small_mb, args.compact_steps)
            scores = {split: trainer.evaluate_split(split) for split in ("val", "test")}
            path = trainer.export(out / "avatar_small.gavatar", {
                **{f"{s}_psnr": v["psnr"] for s, v in scores.items() if v},
                **{f"{s}_ssim": v["ssim"] for s, v in scores.items() if v},
                "gaussians": trainer.gaussians.num_gaussians, "compaction": report,
            })  # fmt: skip
            small = {
                "path": str(path), "bytes": path.stat().st_size, "compaction": report,
                "seconds": time.perf_counter() - start,
                **{f"{s}_psnr": v["psnr"] for s, v in scores.items() if v},
                **{f"{s}_ssim": v["ssim"] for s, v in scores.items() if v},
            }  # fmt: skip
    result: dict[str, Any] = {
        "variant": name,
        "config": cfg.to_dict(),
        "iterations": trainer.iteration,
        "train_seconds": trainer.train_time,
        "its_per_s": trainer.iteration / max(trainer.train_time, 1e-9),
        "images_per_s": trainer.iteration * cfg.batch_cameras / max(trainer.train_time, 1e-9),
        "gaussians": trained_gaussians,
        "peak_gpu_memory_gb": metrics.get("peak_gpu_memory_gb"),
        "seconds_to_val_30db": trainer.milestones.get("val_psnr_30"),
        "seconds_to_val_33db": trainer.milestones.get("val_psnr_33"),
        "final_eval_seconds": eval_seconds,
        "avatar": str(out / "avatar.gavatar"),
        "avatar_bytes": (out / "avatar.gavatar").stat().st_size,
        "history": trainer.history,
        "small_avatar": small,
    }
    for split, scores in full.items():
        if scores is not None:
            result[f"{split}_psnr"] = scores["psnr"]
            result[f"{split}_ssim"] = scores["ssim"]
            result[f"{split}_images"] = scores["count"]
        result[f"{split}_at_6.5min"] = at_time(trainer.history, GA_REFERENCE_SECONDS, split)
    del trainer
    torch.cuda.empty_cache()
    return result


@torch.no_grad()
def measure_render(avatar_path: str, args: argparse.Namespace) -> dict[str, Any]:
    return render_speed(avatar_path, args.data, args.model, args.rig, args.render_frames, args.render_repeats)


def summary(results: dict[str, Any]) -> str:
    lines = [
        f"# Head benchmark ({results['device']}, {results['minutes']} min per variant)",
        "",
        results.get("note", ""),
        "",
        "| | " + " | ".join(v["variant"] for v in results["variants"]) + " |",
        "| --- | " + " | ".join("---" for _ in results["variants"]) + " |",
    ]

    def row(label: str, fn) -> None:
        cells = []
        for v in results["variants"]:
            try:
                value = fn(v)
            except (KeyError, TypeError):
                value = None
            cells.append(
                "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("seconds to 30 dB (val)", lambda v: v["seconds_to_val_30db"])
    row("seconds to 33 dB (val)", lambda v: v["seconds_to_val_33db"])
    row("val PSNR (held-out cameras)", lambda v: v["val_psnr"])
    row("val SSIM", lambda v: v["val_ssim"])
    row("test PSNR (held-out frames)", lambda v: v["test_psnr"])
    row("test SSIM", lambda v: v["test_ssim"])
    row("val PSNR at 6.5 min", lambda v: v["val_at_6.5min"]["psnr"])
    row("test PSNR at 6.5 min", lambda v: v["test_at_6.5min"]["psnr"])
    row("iterations", lambda v: v["iterations"])
    row("iterations/s", lambda v: v["its_per_s"])
    row("images/s", lambda v: v["images_per_s"])
    row("Gaussians", lambda v: v["gaussians"])
    row("peak GPU memory (GiB)", lambda v: v["peak_gpu_memory_gb"])
    row("avatar file (MB)", lambda v: v["avatar_bytes"] / 1e6)
    row("compact avatar (MB)", lambda v: v["small_avatar"]["bytes"] / 1e6)
    row("compact avatar Gaussians", lambda v: v["small_avatar"]["compaction"]["after"])
    row("compact val PSNR", lambda v: v["small_avatar"]["val_psnr"])
    row("compact test PSNR", lambda v: v["small_avatar"]["test_psnr"])
    if results.get("render"):
        lines += ["", describe(results["render"])]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--rig", default="flame")
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--iterations", type=int, default=10_000_000, help="cap (the time budget rules)")
    parser.add_argument("--variants", default="dynamic,static")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--eval-every", type=float, default=20.0, help="seconds of training between evals")
    parser.add_argument(
        "--eval-images", type=int, default=16, help="held-out images per eval during training"
    )
    parser.add_argument("--render-frames", type=int, default=50)
    parser.add_argument("--render-repeats", type=int, default=300)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--small-mb", type=float, default=15.5, help="compact copy of the dynamic avatar")
    parser.add_argument("--compact-steps", type=int, default=2000)
    parser.add_argument("--profile-steps", type=int, default=0, help="profile this many steps first")
    parser.add_argument("--render-only", default=None, help="measure render speed of this avatar only")
    parser.add_argument("--merge", default=None, help="comma-separated results.json of variants run apart")
    parser.add_argument("--skip-render", action="store_true", help="no render-speed measurement")
    parser.add_argument("--note", default="", help="a line for the summary (how the run was made)")
    args = parser.parse_args()
    setup_logging()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0),
        "minutes": args.minutes,
        "torch": torch.__version__,
        "args": vars(args),
        "variants": [],
        "note": args.note,
    }
    if args.merge:
        for part in args.merge.split(","):
            results["variants"] += json.loads(Path(part).read_text())["variants"]
    if args.render_only:
        results["render"] = measure_render(args.render_only, args)
        profile_frames(args.render_only, args.data, args.model, args.rig, out / "render_profile.txt")
    elif not args.merge:
        overrides = parse_overrides(args.set)
        for name in args.variants.split(","):
            extra = dict(overrides)
            if name == "static":
                extra["dynamics_rank"] = 0
            results["variants"].append(train_variant(name, args, extra))
            (out / "results.json").write_text(json.dumps(results, indent=1))
        if not args.skip_render:
            results["render"] = measure_render(results["variants"][0]["avatar"], args)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "summary.md").write_text(summary(results))
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
