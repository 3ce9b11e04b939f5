"""The demo's stages. Each runs the product's own commands (trainer CLI, dataset generator,
Blender operators) in subprocesses, as a user would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core import paths
from core.rig import standins

from .pipeline import DemoContext, DemoError, Stage, run_command
from .progress import StageBar, log

RIG = {"head": "flame", "body": "smplx"}
FAMILY = {"head": "FLAME", "body": "SMPLX"}

# Training settings per device: the pure-torch CPU rasterizer only manages a short, small run.
TRAIN_SETTINGS = {
    # The trainer's own H100 benchmark setting; the compact export keeps Blender's drawing light.
    # Held-out evaluations every 30 s of training give the quality curve in metrics.json.
    "cuda": [
        "--preset",
        "fast",
        "--time-budget",
        "600",
        "--export-max-mb",
        "15",
        "--eval-every-seconds",
        "30",
    ],
    # 64x64 images and 3,000 Gaussians with the pure-torch pairs rasterizer (several times the
    # reference's speed): a short CPU run that shows the pipeline, not the quality.
    "cpu": [
        "--preset",
        "tiny",
        "--iterations",
        "100000",
        "--time-budget",
        "720",
        "--backend",
        "pairs",
        "--resolution-scale",
        "0.5",
        "--max-gaussians",
        "3000",
    ],
}


# ---- standins --------------------------------------------------------------------------------
def _standins_settings(ctx: DemoContext) -> dict[str, Any]:
    return {"user_model": ctx.user_model, "folder": paths.standins_dir()}


def _standins_run(ctx: DemoContext) -> dict[str, Any]:
    if ctx.user_model is not None:
        if not ctx.user_model.exists():
            raise DemoError(f"the model file '{ctx.user_model}' does not exist")
        return {"model": str(ctx.user_model), "outputs": [str(ctx.user_model)]}
    bar = StageBar("standins")
    run_command(
        ctx,
        [ctx.python, "-m", "training.standins"],
        what="the stand-in builder",
        on_log=lambda line: bar.update(0.5, line[-60:]),
    )
    bar.update(1.0)
    bar.close()
    model = standins.standin_path(FAMILY[ctx.subject])
    if not model.exists():
        raise DemoError(f"the stand-in builder finished but '{model}' is missing")
    return {"model": str(model), "outputs": [str(model)]}


# ---- dataset ---------------------------------------------------------------------------------
def _dataset_folder(ctx: DemoContext) -> Path:
    suffix = "_small" if ctx.size == "small" else ""
    return ctx.out / "dataset" / f"{ctx.subject}{suffix}"


def _dataset_settings(ctx: DemoContext) -> dict[str, Any]:
    return {
        "user_data": ctx.user_data,
        "user_video": ctx.user_video,
        "user_calibration": ctx.user_calibration,
        "subject": ctx.subject,
        "size": ctx.size,
        "model": ctx.results["standins"]["model"],
    }


def _dataset_run(ctx: DemoContext) -> dict[str, Any]:
    if ctx.user_data is not None:
        if not ctx.user_data.is_dir():
            raise DemoError(f"the dataset folder '{ctx.user_data}' does not exist")
        return {"data": str(ctx.user_data), "outputs": [str(ctx.user_data)]}
    if ctx.user_video is not None:
        return _track_video(ctx)
    folder = _dataset_folder(ctx)
    args = [ctx.python, "-m", "scripts.make_synthetic", ctx.subject, "--out", str(folder)]
    if ctx.size == "small":
        args.append("--small")
    if ctx.user_model is not None:
        args += ["--model", str(ctx.user_model)]
    variant = (
        "small variant (4 cameras, 128x128)" if ctx.size == "small" else "full size (16 cameras, 512x512)"
    )
    log(f"dataset: {variant} of the synthetic {ctx.subject}, rendered with Cycles")
    bar = StageBar("dataset")
    run_command(
        ctx, args, what="the synthetic dataset generator", on_log=lambda line: bar.update(0.5, line[-60:])
    )
    bar.update(1.0)
    bar.close()
    return {"data": str(folder), "outputs": [str(folder / "recipe.json")]}


def _track_video(ctx: DemoContext) -> dict[str, Any]:
    """The user's video tracked with FLAME into a dataset (python -m training track)."""
    video = ctx.user_video
    assert video is not None
    if not video.exists():
        raise DemoError(f"the video '{video}' does not exist")
    folder = ctx.out / "dataset" / f"tracked_{video.stem}"
    if folder.exists():  # an earlier run with other settings: track again from scratch
        import shutil

        shutil.rmtree(folder)
    args = [ctx.python, "-m", "training", "track", "--video", str(video), "--out", str(folder)]
    if ctx.user_calibration is not None:
        args += ["--calibration", str(ctx.user_calibration)]
    if ctx.user_model is not None:
        args += ["--model", str(ctx.user_model)]
    args += ["--device", ctx.device]
    log(f"dataset: tracking FLAME in {video.name} (landmarks, masks, fit)")
    bar = StageBar("dataset")

    def on_event(line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        if event.get("event") == "progress" and event.get("progress") is not None:
            bar.update(float(event["progress"]), str(event.get("stage", "")))
        elif event.get("event") == "done":
            log(f"tracked {event['frames']} frames, landmark error {event['rmse_px']:.2f} px")

    run_command(ctx, args, on_line=on_event, what="the tracker")
    bar.update(1.0)
    bar.close()
    return {"data": str(folder), "outputs": [str(folder / "track.json")]}


# ---- train -----------------------------------------------------------------------------------
def _train_settings(ctx: DemoContext) -> dict[str, Any]:
    return {
        "user_avatar": ctx.user_avatar,
        "data": ctx.results["dataset"]["data"],
        "model": ctx.results["standins"]["model"],
        "device": ctx.device,
        "args": TRAIN_SETTINGS[ctx.device],
    }


def _train_run(ctx: DemoContext) -> dict[str, Any]:
    if ctx.user_avatar is not None:
        if not ctx.user_avatar.exists():
            raise DemoError(f"the avatar file '{ctx.user_avatar}' does not exist")
        info = _avatar_metrics(ctx, ctx.user_avatar)
        return {
            "avatar": str(ctx.user_avatar),
            "metrics": info,
            "device": "given",
            "outputs": [str(ctx.user_avatar)],
        }
    out = ctx.out / "train"
    if ctx.device == "cpu":
        log(
            "train: no CUDA here, so the pure-torch CPU rasterizer trains a short, small run; "
            "expect a soft avatar (quality needs a GPU: see the README's figures)"
        )
    args = [
        ctx.python,
        "-m",
        "training",
        "fit",
        "--data",
        ctx.results["dataset"]["data"],
        "--rig",
        RIG[ctx.subject],
        "--model",
        ctx.results["standins"]["model"],
        "--out",
        str(out),
        "--device",
        ctx.device,
        *TRAIN_SETTINGS[ctx.device],
    ]
    if (out / "checkpoint.pt").exists() and not (out / "avatar.gavatar").exists():
        args.append("--resume")
    bar = StageBar("train")
    done: dict[str, Any] = {}
    curve: list[dict[str, float]] = []

    def on_event(line: str) -> None:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return
        kind = event.get("event")
        if kind == "progress":
            psnr = event.get("psnr")
            note = f"it {event.get('iteration')}  loss {event.get('loss', 0):.4f}"
            note += f"  psnr {psnr:.1f} dB" if isinstance(psnr, (int, float)) else ""
            note += f"  {event.get('gaussians')} gaussians  eta {event.get('eta', 0):.0f}s"
            bar.update(float(event.get("progress") or 0.0), note)
        elif kind == "eval":
            point = {"seconds": round(float(event.get("elapsed", 0.0)), 1)}
            for split in ("val", "test"):
                if isinstance(event.get(split), dict) and "psnr" in event[split]:
                    point[f"{split}_psnr"] = round(float(event[split]["psnr"]), 3)
            curve.append(point)
        elif kind == "done":
            done.update(event)
        elif kind == "error":
            done["error"] = event.get("message")

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "trainer.log", "a", encoding="utf-8") as trainer_log:  # its human log, for later
        run_command(
            ctx,
            args,
            on_line=on_event,
            on_log=lambda line: trainer_log.write(line + "\n"),
            what="the trainer",
        )
    bar.update(1.0)
    bar.close()
    if "avatar" not in done:
        raise DemoError(f"the trainer ended without an avatar ({done.get('error', 'no done event')})")
    return {
        "avatar": done["avatar"],
        "metrics": done.get("metrics", {}),
        "curve": curve,
        "device": ctx.device,
        "outputs": [done["avatar"]],
    }


def _avatar_metrics(ctx: DemoContext, avatar: Path) -> dict[str, Any]:
    lines: list[str] = []
    run_command(
        ctx, [ctx.python, "-m", "training", "info", str(avatar)], on_line=lines.append, what="training info"
    )
    for line in reversed(lines):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        header = event.get("header", event)
        return dict(header.get("metrics", {}))
    return {}


# ---- blender ---------------------------------------------------------------------------------
def _blender_settings(ctx: DemoContext) -> dict[str, Any]:
    return {
        "avatar": ctx.results["train"]["avatar"],
        "model": ctx.results["standins"]["model"],
        "frames": ctx.frames,
        "subject": ctx.subject,
        "version": 1,
    }


def _blender_run(ctx: DemoContext) -> dict[str, Any]:
    out = ctx.out
    args = [
        ctx.python,
        "-m",
        "scripts.demo.blender_job",
        "--avatar",
        ctx.results["train"]["avatar"],
        "--model",
        ctx.results["standins"]["model"],
        "--out",
        str(out),
        "--frames",
        str(ctx.frames),
        "--subject",
        ctx.subject,
    ]
    bar = StageBar("blender", 1.0)
    result: dict[str, Any] = {}

    def on_event(line: str) -> None:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return
        if event.get("event") == "frame":
            bar.update(event["index"] / event["count"], f"frame {event['index']}/{event['count']}")
        elif event.get("event") == "step":
            bar.update(0.0, event.get("message", ""))
        elif event.get("event") == "done":
            result.update(event)

    run_command(ctx, args, on_line=on_event, what="the Blender stage")
    bar.update(1.0)
    bar.close()
    if "frames" not in result:
        raise DemoError("the Blender stage ended without rendering")
    result.pop("event", None)
    result["outputs"] = [result["blend"], *result["frames"]]
    return result


# ---- package ---------------------------------------------------------------------------------
def _package_settings(ctx: DemoContext) -> dict[str, Any]:
    return {"frames": ctx.results["blender"]["frames"], "version": 2}


def _package_run(ctx: DemoContext) -> dict[str, Any]:
    from .contact_sheet import make_contact_sheet, make_preview_gif

    frames = [Path(p) for p in ctx.results["blender"]["frames"]]
    sheet = make_contact_sheet(frames, ctx.out / "contact_sheet.png")
    gif = make_preview_gif(frames, ctx.out / "preview.gif")
    video = ctx.out / "demo.mp4"
    run_command(
        ctx,
        [
            ctx.python,
            "-m",
            "scripts.demo.encode_video",
            "--out",
            str(video),
            "--fps",
            str(ctx.results["blender"].get("fps", 24)),
            *map(str, frames),
        ],
        what="the video encoder",
    )
    return {
        "contact_sheet": str(sheet),
        "preview": str(gif),
        "video": str(video),
        "outputs": [str(sheet), str(gif), str(video)],
    }


STAGES: list[Stage] = [
    Stage("standins", _standins_settings, _standins_run),
    Stage("dataset", _dataset_settings, _dataset_run),
    Stage("train", _train_settings, _train_run),
    Stage("blender", _blender_settings, _blender_run),
    Stage("package", _package_settings, _package_run),
]
STAGE_NAMES = [s.name for s in STAGES]
