"""4D sequence vs per-frame static reconstructions on a D-NeRF-style dataset (the built-in toys4d
by default: ``python -m scripts.make_4d``). Prints one JSON object of figures.

    .venv/bin/python -m benchmarks.fourd.sequence --device cpu --preset cpu --budget 420 --static-frames 0
    python -m benchmarks.fourd.sequence --device cuda --budget 150 --static-frames 6 --static-budget 15

Figures: the 4D run's held-out view (val) and held-out time (test) PSNR / SSIM, training time,
Gaussians, field size, the baked file's size per second of animation, the milliseconds per frame
to evaluate the field and to draw a frame at ``--speed-side`` pixels; and, over
``--static-frames`` training times spread over the sequence, a static reconstruction of each time
from its own views (``only_timestep``, no field) scored on the held-out view at that time, next to
the 4D run's score on the same images, with the PLY size a per-frame sequence of such
reconstructions takes per second.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.commands.fit import _apply_sets
from training.fourd.config import PRESETS, FourDConfig
from training.fourd.trainer import SequenceTrainer
from training.runtime.protocol import EventWriter


def _config(args: argparse.Namespace, out: Path, **over: Any) -> FourDConfig:
    values = {**PRESETS[args.preset], "data": args.data, "out": str(out), "device": args.device}
    values.update(time_budget=args.budget, iterations=10**6 if args.budget else PRESETS[args.preset].get(
        "iterations", FourDConfig.iterations))  # fmt: skip
    values.update(preview_every=0, checkpoint_every=0)
    _apply_sets(values, FourDConfig, args)
    values.update(over)
    return FourDConfig.from_dict(values)


def _val_scores(trainer: SequenceTrainer, timestep: int) -> dict[str, float]:
    from training.metrics import score_images

    data = trainer._held_out("val")
    assert data is not None and data.cache is not None
    picks = [i for i, t in enumerate(data.timesteps) if t == timestep]
    renders = [trainer.render_view(data, i) for i in picks]
    truths = [data.cache.batch([i])[0][0] for i in picks]
    scores = score_images(renders, truths)
    return {"psnr": scores["psnr"], "ssim": scores["ssim"], "images": len(picks)}


def _ply_bytes(trainer: SequenceTrainer, folder: Path) -> int:
    from core.avatar.gaussians import GaussianSet
    from core.avatar.ply import write_ply

    world = trainer.model.at_time(0.0, trainer.cfg.sh_degree, deform=False)
    f = lambda t: t.detach().float().cpu().numpy()  # noqa: E731
    p = world.opacities.double().clamp(1e-6, 1 - 1e-6)
    gaussians = GaussianSet(
        means=f(world.means), quats=f(world.quats), log_scales=f(world.scales.log()),
        opacity_logits=f(torch.log(p / (1 - p))), sh=f(world.sh),
    )  # fmt: skip
    path = folder / "frame.ply"
    write_ply(path, gaussians)
    return path.stat().st_size


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def _render_speed(trainer: SequenceTrainer, side: int = 1024, frames: int = 48) -> dict[str, float]:
    """Milliseconds per frame to evaluate the field at a time (what a live player would pay) and to
    draw the Gaussians at ``side`` x ``side`` from the held-out camera (what playing baked frames
    pays), each the mean over ``frames`` times after a warm-up."""
    data = trainer._held_out("val") or trainer.train
    w, h = data.sizes[0]
    k = data.ks[0:1].clone()
    k[:, :2] *= side / max(w, h)  # the same view at a viewport-like size
    times = np.linspace(0.0, 1.0, frames).tolist()
    cfg, model, device = trainer.cfg, trainer.model, trainer.device
    deform = trainer.deforming(1.0)
    worlds = [model.at_time(t, cfg.sh_degree, deform) for t in times[:3]]  # warm-up
    trainer.renderer.render(worlds[0], data.viewmats[0:1], k, side, side)
    _synchronise(device)
    start = time.perf_counter()
    worlds = [model.at_time(t, cfg.sh_degree, deform) for t in times]
    _synchronise(device)
    field_ms = (time.perf_counter() - start) * 1e3 / frames
    start = time.perf_counter()
    for world in worlds:
        trainer.renderer.render(world, data.viewmats[0:1], k, side, side)
    _synchronise(device)
    draw_ms = (time.perf_counter() - start) * 1e3 / frames
    return {"field_ms_per_frame": field_ms, "draw_ms_per_frame": draw_ms, "draw_side_px": side,
            "fps_field_and_draw": 1e3 / (field_ms + draw_ms), "fps_baked_draw": 1e3 / draw_ms}  # fmt: skip


@torch.no_grad()
def _save_strips(trainer: SequenceTrainer, folder: Path) -> None:
    """Truth beside render for a few held-out images of each split (one PNG per split)."""
    from training.files.images import save_png, side_by_side

    for split in ("val", "test"):
        data = trainer._held_out(split)
        if data is None or data.cache is None:
            continue
        picks = np.linspace(0, len(data) - 1, min(6, len(data))).round().astype(int).tolist()
        rows = [side_by_side(data.cache.batch([i])[0][0], trainer.render_view(data, i)) for i in picks]
        save_png(folder / f"{split}_truth_render.png", torch.cat(rows, 0))


def _static_summary(
    rows: list[dict[str, Any]], metrics: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    fps = float(metrics["sequence_fps"])
    static_psnr = float(np.mean([r["static"]["psnr"] for r in rows]))
    four_psnr = float(np.mean([r["4d"]["psnr"] for r in rows]))
    static_mb_s = float(np.mean([r["static_ply_bytes"] for r in rows])) * fps / 1e6
    return {
        "frames": rows,
        "mean_val_psnr_static": static_psnr,
        "mean_val_psnr_4d_same_images": four_psnr,
        "psnr_4d_minus_static_db": four_psnr - static_psnr,
        "static_ply_mb_per_second": static_mb_s,
        "size_ratio_static_over_4d": static_mb_s / float(metrics["sequence_mb_per_second"]),
        "seconds_per_static_frame": None if args.static_iterations else args.static_budget,
        "iterations_per_static_frame": args.static_iterations or None,
    }


def _write(args: argparse.Namespace, figures: dict[str, Any], started: float) -> str:
    """The figures as JSON text, also written to ``--json`` (again after each part)."""
    figures["wall_s"] = time.perf_counter() - started
    text = json.dumps(figures, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="dataset (default: the cached toys4d)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--budget", type=float, default=0.0, help="seconds of 4D training (0: the preset's)")
    parser.add_argument("--static-frames", type=int, default=4, help="per-frame static baselines (0: none)")
    parser.add_argument("--static-budget", type=float, default=20.0, help="seconds per static baseline")
    parser.add_argument(
        "--static-iterations", type=int, default=0,
        help="iterations per static baseline instead of --static-budget (what a busy CPU does not change)",
    )  # fmt: skip
    parser.add_argument("--out", default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--images", default=None, help="write held-out truth | render strips here")
    parser.add_argument("--speed-side", type=int, default=1024, help="pixels of the render-speed frames")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="a 4D setting (repeatable)")
    args = parser.parse_args(argv)
    if args.data is None:
        from scripts.make_4d import default_out

        args.data = str(default_out(False))
    root = Path(args.out or tempfile.mkdtemp(prefix="fourd_bench_"))
    events = EventWriter(io.StringIO())

    started = time.perf_counter()
    four = SequenceTrainer(_config(args, root / "4d"), events)
    four.setup()
    metrics = four.run()
    figures: dict[str, Any] = {"device": str(four.device), "backend": four.backend, "4d": metrics,
                               "4d_wall_s": time.perf_counter() - started}  # fmt: skip
    figures["render_speed"] = _render_speed(four, side=args.speed_side)
    print(json.dumps({"4d": metrics, "render_speed": figures["render_speed"]}), file=sys.stderr, flush=True)
    _write(args, figures, started)
    if args.images:
        _save_strips(four, Path(args.images))

    if args.static_frames > 0:
        train_steps = sorted(four.train.by_timestep)
        picks = sorted({train_steps[round(i * (len(train_steps) - 1) / max(1, args.static_frames - 1))]
                        for i in range(args.static_frames)})  # fmt: skip
        rows = []
        for step in picks:
            length = (
                {"time_budget": 0.0, "iterations": args.static_iterations}
                if args.static_iterations > 0
                else {"time_budget": args.static_budget, "iterations": 10**6}
            )
            static = SequenceTrainer(
                _config(args, root / f"static_{step}", only_timestep=step, densify_until=0.6,
                        static_warmup=0.0, **length),
                events,
            )  # fmt: skip
            static.setup()
            static.run()
            rows.append({
                "timestep": step, "static": _val_scores(static, step), "4d": _val_scores(four, step),
                "static_gaussians": static.model.num_gaussians, "static_ply_bytes": _ply_bytes(static, root),
            })  # fmt: skip
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            figures["static"] = _static_summary(rows, metrics, args)
            _write(args, figures, started)  # so far: a run cut short still leaves its figures
    print(_write(args, figures, started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
