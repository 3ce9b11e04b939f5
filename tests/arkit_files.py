"""Generated ARKit weight files in the layouts capture apps write (no real captures in the repo)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.motion.arkit import ARKIT_NAMES

ROTATION_HEADER = [
    "HeadYaw", "HeadPitch", "HeadRoll",
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
]  # fmt: skip


def pascal(name: str) -> str:
    return name[0].upper() + name[1:]


def smooth_weights(frames: int, seed: int = 0) -> np.ndarray:
    """(frames, 52) weights in [0, 1] that vary smoothly."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None]
    phase, speed = rng.uniform(0, 6.28, 52), rng.uniform(0.02, 0.2, 52)
    return 0.5 + 0.5 * np.sin(phase + speed * t)


def timecode(seconds: float, rate: float, start: float = 12 * 3600 + 34 * 60 + 56) -> str:
    """hh:mm:ss:ff.sss of start + seconds at rate (frame and fraction of a frame)."""
    total = start + seconds
    whole = int(np.floor(total + 1e-9))
    frames = (total - whole) * rate
    f = int(np.floor(frames + 1e-6))
    sub = max(frames - f, 0.0)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}.{round(sub * 1000):03d}"


def write_live_link_csv(
    path: Path,
    weights: np.ndarray,
    rate: float = 60.0,
    rotations: np.ndarray | None = None,
    times: np.ndarray | None = None,
) -> Path:
    """A Live Link Face style CSV: Timecode, BlendShapeCount, 52 PascalCase names [, 9 rotations]."""
    frames = weights.shape[0]
    times = np.arange(frames) / rate if times is None else times
    header = ["Timecode", "BlendShapeCount"] + [pascal(n) for n in ARKIT_NAMES]
    if rotations is not None:
        header += ROTATION_HEADER
    lines = [",".join(header)]
    for k in range(frames):
        row = [timecode(float(times[k]), rate), "61" if rotations is not None else "52"]
        row += [f"{v:.6f}" for v in weights[k]]
        if rotations is not None:
            row += [f"{v:.6f}" for v in rotations[k]]
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_mediapipe_json(path: Path, weights: np.ndarray, fps: float = 30.0) -> Path:
    """MediaPipe face-landmarker blendshapes per frame ('_neutral' first, then the 52 camelCase)."""
    frames = []
    for k in range(weights.shape[0]):
        cats = [{"index": 0, "categoryName": "_neutral", "score": 0.0, "displayName": ""}]
        cats += [
            {"index": i + 1, "categoryName": n, "score": float(weights[k, i]), "displayName": ""}
            for i, n in enumerate(ARKIT_NAMES)
        ]
        frames.append({"timestamp_ms": k * 1000.0 / fps, "blendshapes": cats})
    path.write_text(json.dumps({"frames": frames}), encoding="utf-8")
    return path


def write_plain_csv(
    path: Path, names: list[str], weights: np.ndarray, time: np.ndarray | None = None
) -> Path:
    header = (["time"] if time is not None else []) + names
    lines = [",".join(header)]
    for k in range(weights.shape[0]):
        row = ([f"{time[k]:.6f}"] if time is not None else []) + [f"{v:.6f}" for v in weights[k]]
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
