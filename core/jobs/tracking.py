"""Tracking a video into a dataset from the add-on: the ``python -m training track`` command line,
the folder it writes into, and what its JSON-lines events say to the user (bpy-free)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .events import TrainerEvent
from .outcomes import EXIT_INTERRUPTED

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


@dataclass(frozen=True)
class TrackSettings:
    video: str  # a video file, a folder of frames, or a capture folder (one sub-folder per camera)
    out: str  # a new (or empty) folder for the dataset
    calibration: str = ""  # cameras of a capture: JSON or COLMAP cameras.txt / images.txt
    model: str = ""  # FLAME-format model file; empty: the free stand-in
    focal: float = 0.0  # focal length in pixels for one camera; 0: estimated
    device: str = ""  # "cpu" / "cuda"; empty: CUDA when present
    max_frames: int = 0  # 0: every frame

    def problems(self) -> list[str]:
        """What stops the command from running, one sentence each (empty: fine)."""
        found: list[str] = []
        video = Path(self.video)
        if not self.video:
            found.append("Choose a video file or a folder of frames to track.")
        elif not video.exists():
            found.append(f"'{self.video}' does not exist.")
        elif video.is_file() and video.suffix.lower() not in VIDEO_SUFFIXES:
            kinds = ", ".join(VIDEO_SUFFIXES)
            found.append(
                f"'{video.name}' is not a video the tracker reads ({kinds}), nor a folder of frames."
            )
        if self.calibration and not Path(self.calibration).is_file():
            found.append(f"Calibration file '{self.calibration}' does not exist.")
        if self.model and not Path(self.model).is_file():
            found.append(f"FLAME model file '{self.model}' does not exist.")
        out = Path(self.out) if self.out else None
        if out is None:
            found.append("Choose a folder for the tracked dataset.")
        elif out.exists() and (not out.is_dir() or any(out.iterdir())):
            found.append(f"'{self.out}' is not an empty folder: the tracked dataset needs a new one.")
        if not math.isfinite(self.focal) or self.focal < 0:
            found.append("The focal length must be a positive number of pixels (0: estimate it).")
        if self.max_frames < 0:
            found.append("The frame limit must be 0 (all frames) or more.")
        return found


def track_command(python: str, settings: TrackSettings) -> list[str]:
    """The argv that tracks ``settings.video`` into ``settings.out`` with the trainer's Python."""
    argv = [python, "-m", "training", "track", "--video", settings.video, "--out", settings.out]
    if settings.calibration:
        argv += ["--calibration", settings.calibration]
    if settings.model:
        argv += ["--model", settings.model]
    if settings.focal > 0:
        argv += ["--focal", repr(float(settings.focal))]
    if settings.device:
        argv += ["--device", settings.device]
    if settings.max_frames > 0:
        argv += ["--max-frames", str(settings.max_frames)]
    return argv


def default_output(video: str, cache_dir: str) -> Path:
    """A new folder for the dataset of ``video``: <cache>/tracked/<name>[-N]."""
    name = Path(video.rstrip("/\\")).stem or "video"
    base = Path(cache_dir).expanduser() / "tracked"
    candidate = base / name
    n = 2
    while candidate.exists():
        candidate = base / f"{name}-{n}"
        n += 1
    return candidate


STAGES = {
    "landmarks": "Finding landmarks",
    "fit-rigid": "Fitting head pose",
    "fit-full": "Fitting expressions",
}


def progress_text(event: TrainerEvent) -> str:
    """One status-bar line for a progress event of the tracker."""
    stage = str(event.get("stage", ""))
    label = STAGES.get(stage, "Fitting" if stage.startswith("fit") else stage.capitalize() or "Tracking")
    share = event.number("progress")
    parts = [label]
    frame, frames = event.number("frame"), event.number("frames")
    if frame is not None:
        parts.append(f"frame {int(frame)}" + (f"/{int(frames)}" if frames else ""))
    iteration, iterations = event.number("iteration"), event.number("iterations")
    if iteration is not None and iterations:
        parts.append(f"step {int(iteration)}/{int(iterations)}")
    text = ", ".join(parts)
    return f"{text} ({100 * share:.0f}%)" if share is not None else text


def outcome_text(code: int, done: TrainerEvent | None, error: TrainerEvent | None, tail: list[str]) -> str:
    """One sentence for the end of a tracking run."""
    if code == 0 and done is not None:
        frames, rmse = done.number("frames"), done.number("rmse_px")
        missing = done.get("frames_without_face") or []
        text = f"Tracked {int(frames or 0)} frames into {done.get('out')}"
        if rmse is not None:
            text += f" (landmark error {rmse:.2f} px)"
        if missing:
            text += f"; {len(missing)} frame(s) without a face were left out"
        return text
    if code == EXIT_INTERRUPTED:
        return "Tracking stopped; nothing was written"
    if error is not None and error.get("message"):
        hint = str(error.get("hint") or "")
        return f"Tracking failed: {error.get('message')}" + (f" ({hint})" if hint else "")
    last = next((line for line in reversed(tail) if line.strip()), "")
    return f"Tracking failed (exit code {code})" + (f": {last.strip()[:200]}" if last else "")
