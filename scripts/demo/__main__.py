"""python -m scripts.demo [--subject head|body] [--size auto|small|full] [--stage NAME] ...

See scripts/demo/__init__.py for the stages. Output goes to out/demo/.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .pipeline import DemoContext, DemoError, run_stages, write_json
from .progress import log
from .stages import STAGE_NAMES, STAGES

ROOT = Path(__file__).resolve().parents[2]


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--subject", choices=["head", "body"], default="head")
    parser.add_argument(
        "--size",
        choices=["auto", "small", "full"],
        default="auto",
        help="synthetic dataset size (auto: full on CUDA, small on the CPU)",
    )
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    parser.add_argument(
        "--stage", choices=STAGE_NAMES, help="run this stage alone (earlier ones must be done)"
    )
    parser.add_argument(
        "--until", choices=STAGE_NAMES, help="stop after this stage (e.g. train on a GPU machine)"
    )
    parser.add_argument("--force", action="store_true", help="run the selected stage(s) again")
    parser.add_argument("--data", type=Path, help="your own dataset folder instead of the synthetic one")
    parser.add_argument("--model", type=Path, help="your own FLAME/SMPL-X model file instead of the stand-in")
    parser.add_argument("--avatar", type=Path, help="an avatar trained elsewhere (skips training)")
    parser.add_argument(
        "--video",
        type=Path,
        help="your own face video (or image folder / capture folder) to track and train on",
    )
    parser.add_argument(
        "--calibration", type=Path, help="cameras of a --video capture folder (JSON or COLMAP)"
    )
    parser.add_argument("--frames", type=int, default=48, help="frames of the rendered sequence")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = args.device
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    size = args.size if args.size != "auto" else ("full" if device == "cuda" else "small")
    if args.video is not None and (args.subject != "head" or args.data is not None):
        log("FAILED: --video tracks a head into the dataset; it goes without --data and --subject body")
        return 1
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    data = f"your dataset {args.data}" if args.data else f"the {size} synthetic dataset"
    if args.video is not None:
        data = f"your video {args.video} tracked with FLAME"
    trained = f"the avatar {args.avatar}" if args.avatar else f"training on {device.upper()}"
    log(f"{args.subject} avatar: {trained}, {data}, output in {out}")
    ctx = DemoContext(
        root=ROOT,
        out=out,
        subject=args.subject,
        size=size,
        device=device,
        user_data=args.data,
        user_model=args.model,
        user_avatar=args.avatar,
        user_video=args.video,
        user_calibration=args.calibration,
        frames=args.frames,
    )
    start = time.perf_counter()
    try:
        stages = STAGES if args.until is None else STAGES[: STAGE_NAMES.index(args.until) + 1]
        run_stages(ctx, stages, only=args.stage, force=args.force)
    except DemoError as ex:
        log(f"FAILED: {ex}")
        return 1
    total = time.perf_counter() - start
    if (args.stage or args.until or "package") == "package":
        write_summary(ctx, total)
    else:
        log(f"stopped after '{args.stage or args.until}' as asked ({total:.0f} s); results in {out}/.stages/")
    return 0


def write_summary(ctx: DemoContext, total: float) -> None:
    train = ctx.results.get("train", {})
    blender = ctx.results.get("blender", {})
    package = ctx.results.get("package", {})
    metrics = {
        "subject": ctx.subject,
        "device": train.get("device", ctx.device),
        "dataset": ctx.results.get("dataset", {}).get("data"),
        "held_out": {k: v for k, v in train.get("metrics", {}).items() if k.startswith(("val_", "test_"))},
        "training": {
            k: v for k, v in train.get("metrics", {}).items() if not k.startswith(("val_", "test_"))
        },
        "held_out_curve": train.get("curve", []),  # (training seconds, PSNR) during training
        "stage_seconds": ctx.timings,
        "blender_seconds": blender.get("timings", {}),
        "render_seconds_per_frame": blender.get("per_frame_render_s"),
        "frames": len(blender.get("frames", [])),
        "notes": blender.get("notes", []),
    }
    write_json(ctx.out / "metrics.json", metrics)
    log("")
    log("Done. Stage times: " + ", ".join(f"{k} {v:.0f} s" for k, v in ctx.timings.items()))
    held = metrics["held_out"]
    if held:
        log("Held-out quality: " + ", ".join(f"{k} {v:.3f}" for k, v in held.items() if isinstance(v, float)))
    for label, path in [
        ("avatar", train.get("avatar")),
        ("frames", str(Path(blender["frames"][0]).parent) if blender.get("frames") else None),
        ("video", package.get("video")),
        ("contact sheet", package.get("contact_sheet")),
        ("preview GIF", package.get("preview")),
        ("Blender file", blender.get("blend")),
        ("metrics", str(ctx.out / "metrics.json")),
    ]:
        if path:
            log(f"  {label:<13} {path}")
    log(f"Total {total:.0f} s this run.")


if __name__ == "__main__":
    sys.exit(main())
